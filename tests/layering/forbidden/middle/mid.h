// A fixture of the layering test: `middle` uses `lower` in its interface and `secret` privately.
#pragma once
#include "lower/low.h"
#include "secret/hidden.h"
