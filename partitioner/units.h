// Human-readable quantities for the planner's tables and messages ("21.3 GiB", "4.20 ms", "8.03 B").
// Memory is binary (GiB: what allocators and nvidia-smi report), bandwidth and FLOP/s decimal
// (what datasheets quote).
#pragma once

#include <cstdint>
#include <string>

namespace ps {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kMiB = 1024.0 * 1024.0;

std::string format_bytes(double bytes);  // "21.3 GiB", "512.0 MiB", "64.0 KiB", "12 B"
std::string format_gib(double bytes);    // always GiB: "16.0 GiB" (capacities side by side)
std::string format_seconds(double s);    // "1.25 s", "4.20 ms", "35.0 us", "0"
std::string format_count(double n);     // "8.03 B", "218.1 M", "12.3 K", "512"
std::string format_rate(double per_s);   // "1234.5", "12.35", "0.0123": 4 significant figures

}  // namespace ps
