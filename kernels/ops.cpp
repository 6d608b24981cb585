// What ops.h's entry points do out of line: an op a backend has not filled in is a Runtime error
// naming both, never a null call.
#include "kernels/ops.h"

namespace ps::ops {

void fail_unavailable(const OpContext& ctx, const char* op) {
  PS_CHECK(ctx.backend != nullptr, "op ", op, " called with no backend in its OpContext");
  fail_runtime("op ", op, " is not implemented on backend ", ctx.backend->name);
}

}  // namespace ps::ops
