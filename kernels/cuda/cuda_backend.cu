// The CUDA backend: every op of the op list on device tensors (kernels/cuda/cuda_ops.h, one op per
// file), its memory table (cuda_memory.cpp), and device discovery.
#include <cuda_runtime_api.h>

#include <string>

#include "kernels/common/backend.h"
#include "kernels/cuda/cuda_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"

namespace ps {

namespace {

// No driver, no device, or the driver stub of a build machine: the host has no usable GPU,
// which is an answer (0 devices), not an error.
bool means_no_gpu(cudaError_t err) {
  return err == cudaErrorNoDevice || err == cudaErrorInsufficientDriver || err == cudaErrorStubLibrary;
}

int cuda_device_count() {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (means_no_gpu(err)) {
    (void)cudaGetLastError();  // clear the sticky error so later calls start clean
    return 0;
  }
  cuda_check(err, "cudaGetDeviceCount", __FILE__, __LINE__);
  return n;
}

// "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB)"
std::string cuda_device_name(int index) {
  cudaDeviceProp prop{};
  PS_CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
  const double gib = static_cast<double>(prop.totalGlobalMem) / static_cast<double>(1ull << 30);
  return str(prop.name, " (sm_", prop.major, prop.minor, ", ", static_cast<double>(static_cast<int64_t>(gib * 10)) / 10,
             " GiB)");
}

Backend make_cuda_backend() {
  Backend b;
  b.name = "cuda";
  b.kind = DeviceKind::CUDA;
#define PS_CUDA_OP(name, Signature) b.ops.name = cuda::name;
  PS_OP_LIST(PS_CUDA_OP)
#undef PS_CUDA_OP
  b.check_tensor = cuda::check_tensor;
  b.memory = cuda::cuda_memory_table();
  b.device_count = cuda_device_count;
  b.device_name = cuda_device_name;
  return b;
}

}  // namespace

const Backend& cuda_backend() {
  static const Backend backend = make_cuda_backend();
  return backend;
}

}  // namespace ps
