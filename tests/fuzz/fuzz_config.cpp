// libFuzzer target: a Hugging Face config.json through json_parse and model_spec_from_json.
// On success, the config that make-model would write for the spec (model_spec_to_config_json)
// must read back to the same spec: same family, dims and layer list, tensor by tensor.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "runtime/spec/model_spec.h"
#include "tests/fuzz/fuzz_contract.h"

namespace {

constexpr const char* kTarget = "fuzz_config";

bool same_layers(const ps::ModelSpec& a, const ps::ModelSpec& b) {
  if (a.layers.size() != b.layers.size()) return false;
  for (size_t i = 0; i < a.layers.size(); ++i) {
    const ps::LayerSpec& x = a.layers[i];
    const ps::LayerSpec& y = b.layers[i];
    if (x.kind != y.kind || x.name != y.name || x.tensors.size() != y.tensors.size()) return false;
    for (size_t t = 0; t < x.tensors.size(); ++t)
      if (x.tensors[t].name != y.tensors[t].name || !(x.tensors[t].shape == y.tensors[t].shape)) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string file = "config.json";
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  ps::ModelSpec spec;
  if (!ps::fuzz::accepts(kTarget, file, [&] { spec = ps::model_spec_from_json(ps::json_parse(text, file), file); }))
    return 0;

  FUZZ_CHECK(kTarget, !ps::fuzz::has_nul_or_duplicate_key(text));  // json_parse is strict
  FUZZ_CHECK(kTarget, spec.num_layers() > 0);
  FUZZ_CHECK(kTarget, spec.param_count() > 0);
  ps::ModelSpec back;
  const std::string again = "round-trip-config.json";
  // An accepted spec's own config must be accepted: accepts() traps on any refusal naming
  // another file, and a refusal naming this one is caught by the check below.
  const bool ok = ps::fuzz::accepts(kTarget, again, [&] {
    back = ps::model_spec_from_json(ps::model_spec_to_config_json(spec), again);
  });
  FUZZ_CHECK(kTarget, ok);
  FUZZ_CHECK(kTarget, back.family == spec.family && back.model_type == spec.model_type && back.dtype == spec.dtype);
  FUZZ_CHECK(kTarget, back.vocab_size == spec.vocab_size && back.hidden == spec.hidden && back.n_layers == spec.n_layers);
  FUZZ_CHECK(kTarget, back.n_heads == spec.n_heads && back.n_kv_heads == spec.n_kv_heads && back.head_dim == spec.head_dim);
  FUZZ_CHECK(kTarget, back.intermediate == spec.intermediate && back.max_positions == spec.max_positions);
  FUZZ_CHECK(kTarget, back.tie_embeddings == spec.tie_embeddings && back.qkv_bias == spec.qkv_bias);
  FUZZ_CHECK(kTarget, back.o_bias == spec.o_bias && back.mlp_bias == spec.mlp_bias);
  FUZZ_CHECK(kTarget, back.eos_token_ids == spec.eos_token_ids && back.bos_token_id == spec.bos_token_id);
  FUZZ_CHECK(kTarget, same_layers(spec, back));
  FUZZ_CHECK(kTarget, back.param_count() == spec.param_count());
  return 0;
}
