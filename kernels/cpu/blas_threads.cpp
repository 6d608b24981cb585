#include "kernels/cpu/blas_threads.h"

#include <cblas.h>

#include "runtime/core/error.h"

namespace ps {

void blas_set_threads(int n) {
  PS_CHECK(n >= 1, "BLAS thread count ", n);
  openblas_set_num_threads(n);
}

int blas_get_threads() { return openblas_get_num_threads(); }

}  // namespace ps
