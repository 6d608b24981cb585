// A fixture of the layering test: `upper` uses `middle` and, through it, `lower` -- but not
// `secret`, which `middle` uses privately.
#pragma once
#include "lower/low.h"
#include "middle/mid.h"
#include "secret/hidden.h"
