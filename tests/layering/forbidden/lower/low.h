// A fixture of the layering test: `lower` may use nothing, yet includes `upper`.
#pragma once
#include "upper/high.h"
