// libFuzzer target: a plan file through json_parse, plan_from_json and plan_validate, against a
// fixed tiny model (llama, or mlp when the plan's "model" names one) with and without a fixed
// cluster. On success, plan_dump must read back to a plan that dumps identically, and every
// rank of a valid plan has a placement.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "partitioner/plan.h"
#include "partitioner/plan_validate.h"
#include "tests/fuzz/fuzz_contract.h"
#include "tests/fuzz/fuzz_fixtures.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr const char* kTarget = "fuzz_plan";
  const std::string file = "plan.json";
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  ps::Plan plan;
  if (!ps::fuzz::accepts(kTarget, file, [&] { plan = ps::plan_from_json(ps::json_parse(text, file), file); })) return 0;
  FUZZ_CHECK(kTarget, !ps::fuzz::has_nul_or_duplicate_key(text));  // json_parse is strict

  const std::string dumped = ps::plan_dump(plan);
  const std::string again = "dumped-plan.json";
  ps::Plan back;
  FUZZ_CHECK(kTarget, ps::fuzz::accepts(kTarget, again, [&] { back = ps::plan_from_json(ps::json_parse(dumped, again), again); }));
  FUZZ_CHECK(kTarget, ps::plan_dump(back) == dumped);

  const ps::ModelSpec& spec =
      plan.model.find("mlp") != std::string::npos ? ps::fuzz::tiny_mlp_spec() : ps::fuzz::tiny_llama_spec();
  ps::Plan alone = plan;
  if (!ps::fuzz::accepts(kTarget, file, [&] { ps::plan_validate(alone, spec, nullptr, file); })) return 0;
  FUZZ_CHECK(kTarget, alone.dtype.has_value());
  FUZZ_CHECK(kTarget, alone.stages.front().first == 0 && alone.stages.back().last == spec.num_layers() - 1);
  // Where every rank runs (plan.h): replica-major ranks, GPU stages of replica k shifted by k * S.
  for (int r = 0; r < ps::plan_world_size(alone); ++r) {
    const ps::RankPlacement p = ps::plan_rank_placement(alone, r);
    const ps::StagePlan& s = alone.stages[static_cast<size_t>(p.stage)];
    FUZZ_CHECK(kTarget, p.rank == r && p.replica == r / alone.num_stages() && p.stage == r % alone.num_stages());
    FUZZ_CHECK(kTarget, p.node == s.node && p.device.kind == s.device.kind && p.device.index >= s.device.index);
  }
  ps::Plan on_cluster = plan;
  ps::fuzz::accepts(kTarget, file, [&] { ps::plan_validate(on_cluster, spec, &ps::fuzz::tiny_cluster(), file); });
  return 0;
}
