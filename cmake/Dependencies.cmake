# Every dependency comes from Debian's packages (see README "Dependencies").
find_package(Threads REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
# Gloo (libgloo-dev) ships GlooConfig.cmake with the imported target `gloo`: the CPU transport.
find_package(Gloo REQUIRED)

# OpenBLAS: Debian installs the cblas header under /usr/include/<triplet>/ and the library as libopenblas.
find_path(OPENBLAS_INCLUDE_DIR NAMES cblas.h PATH_SUFFIXES openblas openblas-pthread)
find_library(OPENBLAS_LIBRARY NAMES openblas)
if(NOT OPENBLAS_INCLUDE_DIR OR NOT OPENBLAS_LIBRARY)
  message(FATAL_ERROR "OpenBLAS not found: apt-get install libopenblas-dev")
endif()
add_library(pipeshard_openblas INTERFACE)
target_include_directories(pipeshard_openblas INTERFACE ${OPENBLAS_INCLUDE_DIR})
target_link_libraries(pipeshard_openblas INTERFACE ${OPENBLAS_LIBRARY})

if(PIPESHARD_TESTS)
  find_package(GTest REQUIRED)
  find_program(PIPESHARD_SYSTEM_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
endif()
if(PIPESHARD_BENCHMARKS)
  find_package(benchmark REQUIRED)
endif()
