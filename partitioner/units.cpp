#include "partitioner/units.h"

#include <cmath>
#include <cstdio>

namespace ps {
namespace {

std::string fmt(const char* f, double v, const char* unit) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v, unit);
  return buf;
}

}  // namespace

std::string format_bytes(double b) {
  if (b >= kGiB) return fmt("%.1f %s", b / kGiB, "GiB");
  if (b >= kMiB) return fmt("%.1f %s", b / kMiB, "MiB");
  if (b >= 1024.0) return fmt("%.1f %s", b / 1024.0, "KiB");
  return fmt("%.0f %s", b, "B");
}

std::string format_gib(double b) { return fmt("%.1f %s", b / kGiB, "GiB"); }

std::string format_seconds(double s) {
  if (s == 0.0) return "0";
  if (s >= 1.0) return fmt("%.2f %s", s, "s");
  if (s >= 1e-3) return fmt("%.2f %s", s * 1e3, "ms");
  return fmt("%.1f %s", s * 1e6, "us");
}

std::string format_count(double n) {
  if (n >= 1e9) return fmt("%.2f %s", n / 1e9, "B");
  if (n >= 1e6) return fmt("%.1f %s", n / 1e6, "M");
  if (n >= 1e3) return fmt("%.1f %s", n / 1e3, "K");
  return fmt("%.0f%s", n, "");
}

std::string format_rate(double v) {
  if (!std::isfinite(v)) return "inf";
  const int digits = v >= 1000 ? 1 : v >= 100 ? 2 : v >= 1 ? 3 : 4;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace ps
