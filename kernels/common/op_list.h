// The op set, written once: PS_OP_LIST(X) calls X(name, Signature) for every op, Signature being
// its type in op_types.h. Everything else that names every op is expanded from this list: the
// OpTable members (backend.h), the op checks' declarations (op_checks.h), the ops:: entry points
// model code calls (kernels/ops.h), both backends' declarations (cpu/cpu_ops.h, cuda/cuda_ops.h)
// and table fills (cpu/cpu_backend.cpp, cuda/cuda_backend.cu), and the tests that every backend
// fills every op (tests/kernels/dispatch_test.cpp, cuda_backend_test.cpp).
//
// Adding an op touches 4 places, plus its tests:
//   1. its entry here, with its documentation (and a Signature in op_types.h if none fits);
//   2. its argument checks, kernels/common/op_checks.cpp: shapes, ranks, counts, ranges, aliasing;
//   3. the CPU kernel, kernels/cpu/<op>.cpp (f32 host tensors; the checks have run);
//   4. the CUDA kernel, kernels/cuda/<op>.cu (device tensors of one dtype; the checks have run);
//   tests: tests/kernels/<op>_test.cpp against a reference, tests/kernels/cuda_ops_test.cpp
//   against the CPU op.
//
// Conventions: activations are row-major [rows, features]; `rows` are tokens (or samples for
// `mlp`). On the CPU every tensor is f32; on CUDA all tensors of one call share f32, f16 or
// bf16. Ops may write `out` in place of an input where noted. Each op's argument checks run
// before its kernel (op_checks.h), so a kernel may rely on them.
#pragma once

// clang-format off
#define PS_OP_LIST(X)                                                                               \
  /* out[i, :] = table[ids[i], :] (or += when accumulate). ids are checked against the table. */    \
  X(embedding, Embedding)                                                                           \
  /* out = a + b (out may alias a or b). */                                                         \
  X(add, Binary)                                                                                    \
  /* x = gelu_tanh(x), in place (GPT-2's "gelu_new": 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3)))). */   \
  X(gelu_tanh, Unary)                                                                               \
  /* x = max(x, 0), in place. */                                                                    \
  X(relu, Unary)                                                                                    \
  /* x = gelu(x) with the exact erf form (torch's nn.GELU()), in place. */                          \
  X(gelu_erf, Unary)                                                                                \
  /* x = x * sigmoid(x), in place. */                                                               \
  X(silu, Unary)                                                                                    \
  /* x = tanh(x), in place. */                                                                      \
  X(tanh_act, Unary)                                                                                \
  /* out = silu(gate) * up (out may alias gate). */                                                 \
  X(silu_mul, Binary)                                                                               \
  /* dst = src converted to dst's dtype (f32, f16, bf16; round to nearest even), same element      \
     count. One side may be host memory (device cpu) while the other is on the context's device:   \
     a copy from or to host memory has completed (or its source is staged) when copy returns; a    \
     copy between device tensors is asynchronous on ctx.stream. The CPU converts on the host. */   \
  X(copy, Copy)                                                                                     \
  /* dst[i, :] = src[rows[i], :]: picks the rows that need logits before the head. */              \
  X(gather_rows, GatherRows)                                                                        \
  /* dst[n, k] = src[n, col0 : col0 + k]: splits a fused projection (GPT-2's c_attn q|k|v) into     \
     contiguous parts. */                                                                           \
  X(copy_columns, CopyColumns)                                                                      \
  /* Per row: (x - mean) / sqrt(var + eps) * gamma + beta. out may alias x. */                      \
  X(layer_norm, LayerNorm)                                                                          \
  /* Per row: x / sqrt(mean(x^2) + eps) * weight. out may alias x. */                               \
  X(rms_norm, RmsNorm)                                                                              \
  /* out[n, out_features] = x[n, in_features] * W (+ bias when bias is non-empty). out != x. */     \
  X(linear, Linear)                                                                                 \
  /* Rotate-half RoPE in place on x[n, heads, head_dim] at positions[n] (one per row), rotating    \
     the first 2*inv_freq.size() dims of each head: x1' = x1 cos - x2 sin, x2' = x2 cos + x1 sin,   \
     where x1/x2 are the two halves. Angles are computed in double then rounded, as positions      \
     grow large. inv_freq comes from ops::rope_inv_freq. */                                         \
  X(rope, Rope)                                                                                     \
  /* Writes k[n, kv_heads*head_dim] and v[...] of each row into the cache at                        \
     (slots[i], positions[i]). */                                                                   \
  X(kv_store, KvStore)                                                                              \
  /* Causal attention of each row over its own slot's cache: row i (slot s, position p) attends    \
     to cache positions 0..p of slot s. q is [n, heads, head_dim]; out is [n, heads, head_dim].     \
     Grouped-query: head h reads kv head h / (heads / kv_heads). This one op serves prefill (many   \
     rows per slot), decode (one row per slot) and ragged mixes of both; store the rows' K/V        \
     first. */                                                                                      \
  X(attention, Attention)                                                                           \
  /* Per row, in place. */                                                                          \
  X(softmax, Unary)                                                                                 \
  /* Per row, in place. */                                                                          \
  X(log_softmax, Unary)                                                                             \
  /* Picks one token per row of logits[n, vocab]. Greedy picks the lowest index among equal         \
     maxima. Otherwise: logits / temperature, keep the top_k largest, keep the smallest prefix of   \
     the sorted distribution whose mass reaches top_p, renormalise, and invert the CDF at           \
     sample_uniform(key) (cpu/sample.cpp specifies it exactly). */                                  \
  X(sample, Sample)
// clang-format on

// X(name, Signature) as a declaration of `name` with that signature, in the enclosing namespace.
#define PS_OP_DECLARE(name, Signature) op_type::Signature name;
