# PIPESHARD_CUDA=AUTO|ON|OFF. The CUDA backend is a separate target linked next to the CPU one and
# picked at run time through the backend registry; shared headers never change with this option.
set(PIPESHARD_HAVE_CUDA OFF)
if(NOT PIPESHARD_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    find_package(CUDAToolkit QUIET)
  endif()
  if(CMAKE_CUDA_COMPILER AND CUDAToolkit_FOUND)
    set(PIPESHARD_HAVE_CUDA ON)
    # Here, at the top: a language must be enabled in a directory above every target that uses
    # it (kernels/cuda, runtime/comm/cuda, tools/gpu).
    enable_language(CUDA)
    # CMake before 3.26 knows nvcc's -std flags only up to C++17; nvcc 12+ accepts -std=c++20.
    if(NOT DEFINED CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
      set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
      set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
    endif()
  elseif(PIPESHARD_CUDA STREQUAL "ON")
    message(FATAL_ERROR "PIPESHARD_CUDA=ON but nvcc or the CUDA toolkit was not found")
  endif()
endif()

# NCCL ships no CMake target (there is no CUDA::nccl): find the header and the library, in the
# toolkit first. The NCCL binding (runtime/comm/cuda) is built only when both are found; the
# transport's logic is plain C++ in runtime/comm and is tested without them.
set(PIPESHARD_HAVE_NCCL OFF)
if(PIPESHARD_HAVE_CUDA)
  find_path(PIPESHARD_NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
  find_library(PIPESHARD_NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR})
  if(PIPESHARD_NCCL_INCLUDE_DIR AND PIPESHARD_NCCL_LIBRARY)
    message(STATUS "pipeshard: NCCL ${PIPESHARD_NCCL_LIBRARY}")
    set(PIPESHARD_HAVE_NCCL ON)
  else()
    message(STATUS "pipeshard: NCCL not found (nccl.h, libnccl): the NCCL transport is not built")
  endif()
endif()
