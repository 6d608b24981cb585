#include "runtime/core/error.h"

namespace ps {

void rethrow_with_context(const Error& e, const std::string& context) {
  throw Error(e.kind(), context + ": " + e.what());
}

}  // namespace ps
