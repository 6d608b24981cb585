// A fixture of the layering test: a private dependency of `middle`.
#pragma once
