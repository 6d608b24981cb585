// The op set: the only way model code computes. Every op takes an OpContext (which backend,
// which stream, how many threads, scratch memory) and tensor views that know their dtype and
// device. The ops and their documentation are the list in kernels/common/op_list.h; this header
// makes one entry point per op from it, ops::<name>(ctx, ...), which finds the op in the
// context's backend (backend.h), runs the op's argument checks (common/op_checks.h) and calls
// the backend's kernel. The CUDA backend fills the same table, so model code never changes with
// the build. Parameter types (WeightLayout, KvLayerView, SamplingParams, SampleKey) are in
// common/op_params.h.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "kernels/common/backend.h"
#include "kernels/common/op_checks.h"
#include "kernels/common/op_context.h"
#include "kernels/common/op_list.h"
#include "kernels/common/op_params.h"
#include "runtime/core/rope_scaling.h"
#include "runtime/core/tensor.h"

namespace ps::ops {

// A Runtime error: the context has no backend, or its backend has no kernel for `op`.
[[noreturn]] void fail_unavailable(const OpContext& ctx, const char* op);

// What the entry point of one op needs, one struct per op of the list: its slot in the OpTable,
// its argument checks and its name.
namespace entry {
#define PS_OP_TRAITS(name, Signature)              \
  struct name {                                    \
    static constexpr auto slot = &OpTable::name;   \
    static constexpr auto check = &op_check::name; \
    static constexpr const char* label = #name;    \
  };
PS_OP_LIST(PS_OP_TRAITS)
#undef PS_OP_TRAITS
}  // namespace entry

// The entry point of an op (Op: its entry:: struct): finds the kernel in the context's backend,
// runs the op's checks, calls the kernel with the arguments unchanged.
template <class Op, class Signature>
struct Dispatch;

template <class Op, class... Args>
struct Dispatch<Op, void(const OpContext&, Args...)> {
  static void call(const OpContext& ctx, Args... args) {
    auto* const kernel = ctx.backend != nullptr ? ctx.backend->ops.*Op::slot : nullptr;
    if (kernel == nullptr) fail_unavailable(ctx, Op::label);
    Op::check(ctx, args...);
    kernel(ctx, args...);
  }
};

// ops::embedding, ops::add, ... : every op of the list, a function with the op's signature.
#define PS_OP_ENTRY(name, Signature) \
  inline constexpr op_type::Signature& name = Dispatch<entry::name, op_type::Signature>::call;
PS_OP_LIST(PS_OP_ENTRY)
#undef PS_OP_ENTRY

// ---- host helpers around the ops (not backend ops) -------------------------------------------
// inv_freq[i] = 1 / theta^(2i/rotary_dim), i < rotary_dim/2, then scaled as HF's
// _compute_{linear,llama3}_parameters do. Pure function; computed once per model; feeds rope.
std::vector<float> rope_inv_freq(double theta, int64_t rotary_dim, const RopeScaling& scaling);
// The k largest log-probabilities of one row of logits, as (token, logprob), largest first.
std::vector<std::pair<int32_t, float>> top_logprobs(const OpContext& ctx, std::span<const float> logits, int k);

}  // namespace ps::ops
