// The CPU backend's MemoryTable: device memory is host memory, 64-byte aligned like Buffer so
// SIMD loads never split cache lines; there are no streams (null), and work is complete when a
// call returns, so events only need to be distinct non-null handles.
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "kernels/common/backend.h"
#include "kernels/cpu/cpu_ops.h"
#include "runtime/core/error.h"

namespace ps::cpu {

namespace {

constexpr size_t kAlign = 64;

void check_device(int device, const char* what) {
  if (device != 0) fail_runtime("cpu: ", what, " on device ", device, ": the CPU backend has device 0 only");
}

// std::aligned_alloc wants a size that is a multiple of the alignment; a zero-byte request still
// gets a distinct pointer, as malloc's callers expect.
void* host_alloc(size_t bytes) {
  const size_t rounded = bytes == 0 ? kAlign : (bytes + kAlign - 1) / kAlign * kAlign;
  void* p = rounded < bytes ? nullptr : std::aligned_alloc(kAlign, rounded);
  if (p == nullptr) fail_runtime("cpu: cannot allocate ", bytes, " bytes");
  return p;
}

void host_free(void* p) { std::free(p); }

void* alloc(int device, size_t bytes) {
  check_device(device, "alloc");
  return host_alloc(bytes);
}

void free_memory(int, void* p) { std::free(p); }

void zero(int device, void* p, size_t bytes) {
  check_device(device, "zero");
  if (bytes != 0) std::memset(p, 0, bytes);
}

void upload_async(void* device_dst, const void* host_src, size_t bytes, void*) {
  if (bytes != 0) std::memcpy(device_dst, host_src, bytes);
}

void set_device(int device) { check_device(device, "set_device"); }

// Free is MemAvailable (what the kernel can hand out without swapping), not MemFree.
void mem_info(int device, size_t* free_bytes, size_t* total_bytes) {
  check_device(device, "mem_info");
  std::ifstream in("/proc/meminfo");
  size_t avail_kb = 0, total_kb = 0;
  bool have_avail = false, have_total = false;
  for (std::string key; in >> key;) {
    size_t kb = 0;
    if (!(in >> kb)) break;
    if (key == "MemAvailable:") {
      have_avail = true;
      avail_kb = kb;
    } else if (key == "MemTotal:") {
      have_total = true;
      total_kb = kb;
    }
    std::string unit;
    std::getline(in, unit);  // " kB"
  }
  if (!have_avail || !have_total)
    fail_runtime("cpu: mem_info: cannot read MemAvailable and MemTotal from /proc/meminfo");
  *free_bytes = avail_kb * 1024;
  *total_bytes = total_kb * 1024;
}

void* stream_create(int device) {
  check_device(device, "stream_create");
  return nullptr;
}

void stream_noop(void*) {}

// A fresh byte per event so that two live events never compare equal.
void* event_create() { return new char(0); }
void event_record(void*, void*) {}
void event_synchronize(void*) {}
void event_destroy(void* e) { delete static_cast<char*>(e); }

}  // namespace

MemoryTable cpu_memory_table() {
  MemoryTable m;
  m.alloc = alloc;
  m.free = free_memory;
  m.zero = zero;
  m.host_alloc = host_alloc;
  m.host_free = host_free;
  m.upload_async = upload_async;
  m.set_device = set_device;
  m.mem_info = mem_info;
  m.stream_create = stream_create;
  m.stream_destroy = stream_noop;
  m.synchronize = stream_noop;
  m.event_create = event_create;
  m.event_record = event_record;
  m.event_synchronize = event_synchronize;
  m.event_destroy = event_destroy;
  return m;
}

}  // namespace ps::cpu
