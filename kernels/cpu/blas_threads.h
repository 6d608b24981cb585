// OpenBLAS keeps its own worker threads. Set them to the ThreadPool's size once at startup so
// that linear uses the same cores as the other ops (and `--threads 1` really means one core).
#pragma once

namespace ps {

void blas_set_threads(int n);  // n >= 1
int blas_get_threads();

}  // namespace ps
