#include "runtime/core/device.h"

#include <charconv>

#include "runtime/core/error.h"

namespace ps {

std::string Device::str() const {
  return kind == DeviceKind::CPU ? std::string("cpu") : "cuda:" + std::to_string(index);
}

Device device_parse(std::string_view s, std::string_view what) {
  if (s == "cpu") return Device::cpu();
  if (s == "cuda") return Device::cuda(0);
  if (s.substr(0, 5) == "cuda:" && s.size() > 5) {
    int idx = -1;
    auto tail = s.substr(5);
    auto [p, ec] = std::from_chars(tail.data(), tail.data() + tail.size(), idx);
    if (ec == std::errc() && p == tail.data() + tail.size() && idx >= 0 && idx <= kMaxDeviceIndex) return Device::cuda(idx);
  }
  fail_input(what, ": '", s, "' is not a device (expected \"cpu\" or \"cuda:N\", N <= ", kMaxDeviceIndex, ")");
}

}  // namespace ps
