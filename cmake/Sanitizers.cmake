# PIPESHARD_SANITIZE: "" (none), "address" (AddressSanitizer + UndefinedBehaviorSanitizer), or
# "thread" (ThreadSanitizer). tools/ci/sanitize.sh builds and tests with it.
#
# "address" with clang also compiles everything with -fsanitize=fuzzer-no-link (coverage
# instrumentation, no libFuzzer main), so one build serves both the instrumented test suite and
# the libFuzzer targets (tests/fuzz/). UBSan findings abort (-fno-sanitize-recover) so that a
# finding fails the test that hit it, not just prints. Only C and C++ are instrumented: nvcc does
# not take these flags, and a sanitizer build is a CPU build (PIPESHARD_CUDA=OFF).
set(PIPESHARD_SANITIZE "" CACHE STRING "Sanitizer build: empty (none), address (ASan+UBSan), thread (TSan)")
set_property(CACHE PIPESHARD_SANITIZE PROPERTY STRINGS "" address thread)

set(PIPESHARD_FUZZERS OFF)
if(PIPESHARD_SANITIZE STREQUAL "address")
  set(_ps_san_compile -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  set(_ps_san_link -fsanitize=address,undefined)
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    list(APPEND _ps_san_compile -fsanitize=fuzzer-no-link)
    set(PIPESHARD_FUZZERS ON)  # tests/fuzz/ builds the libFuzzer binaries
  endif()
elseif(PIPESHARD_SANITIZE STREQUAL "thread")
  set(_ps_san_compile -fsanitize=thread -fno-omit-frame-pointer)
  set(_ps_san_link -fsanitize=thread)
elseif(NOT PIPESHARD_SANITIZE STREQUAL "")
  message(FATAL_ERROR "PIPESHARD_SANITIZE='${PIPESHARD_SANITIZE}': expected empty, address or thread")
endif()

if(_ps_san_compile)
  if(PIPESHARD_HAVE_CUDA)
    message(FATAL_ERROR "PIPESHARD_SANITIZE=${PIPESHARD_SANITIZE} needs a CPU build: add -DPIPESHARD_CUDA=OFF")
  endif()
  add_compile_options("$<$<COMPILE_LANGUAGE:C,CXX>:${_ps_san_compile}>")
  add_link_options(${_ps_san_link})
  message(STATUS "pipeshard: sanitizers ${PIPESHARD_SANITIZE} (${_ps_san_compile})")
endif()
