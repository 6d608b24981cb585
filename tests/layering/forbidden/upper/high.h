// A fixture of the layering test: `upper` may use `lower`.
#pragma once
#include "lower/low.h"
