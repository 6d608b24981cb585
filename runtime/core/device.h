// Where a tensor lives. Plans spell it "cpu" or "cuda:N".
#pragma once

#include <string>
#include <string_view>

namespace ps {

enum class DeviceKind : uint8_t { CPU, CUDA };

struct Device {
  DeviceKind kind = DeviceKind::CPU;
  int index = 0;

  static Device cpu() { return {}; }
  static Device cuda(int i) { return {DeviceKind::CUDA, i}; }
  bool is_cpu() const { return kind == DeviceKind::CPU; }
  std::string str() const;
  friend bool operator==(const Device&, const Device&) = default;
};

// The largest GPU index a file may name. Far above any node's GPU count, and small enough that
// index arithmetic (a cluster's "count" of devices, a replica's offset in plan.h) cannot overflow.
constexpr int kMaxDeviceIndex = 4095;

// Parses "cpu", "cuda", "cuda:3" (index <= kMaxDeviceIndex). Throws ps::Error(InvalidInput) naming `what` otherwise.
Device device_parse(std::string_view s, std::string_view what = "device");

}  // namespace ps
