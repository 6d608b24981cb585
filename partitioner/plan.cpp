#include "partitioner/plan.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "partitioner/topology.h"
#include "runtime/core/error.h"
#include "runtime/core/files.h"

namespace ps {

DType Plan::stage_dtype(size_t s) const {
  PS_CHECK(s < stages.size(), "stage ", s);
  if (stages[s].dtype) return *stages[s].dtype;
  PS_CHECK(dtype.has_value(), "plan dtype not resolved (plan_validate fills it)");
  return *dtype;
}

namespace {

// Quantized formats a later version may run; named so that the refusal can say "not yet".
const std::vector<std::string> kReservedDTypes = {"int8", "int4", "uint8", "fp8", "f8", "fp8_e4m3", "fp8_e5m2",
                                                  "e4m3", "e5m2", "nf4", "q8_0", "q4_0", "q4_k", "awq", "gptq"};

DType read_dtype(const JsonField& f, const char* key) {
  const std::string s = f.require_string(key);
  std::string lower = s;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (std::find(kReservedDTypes.begin(), kReservedDTypes.end(), lower) != kReservedDTypes.end())
    fail_input(f.path(key), ": quantized dtype '", s, "' is not supported yet (use f32, f16 or bf16)");
  const auto t = dtype_parse(s);
  if (!t) fail_input(f.path(key), ": unknown dtype '", s, "' (expected f32, f16 or bf16)");
  return *t;
}

int read_int_in(const JsonField& f, const char* key, int64_t dflt, int64_t lo, int64_t hi) {
  const int64_t v = f.get_int(key, dflt);
  if (v < lo || v > hi) fail_input(f.path(key), ": must be in ", lo, "..", hi, ", got ", v);
  return static_cast<int>(v);
}

void refuse_reserved(const JsonField& f, const char* key, const char* what) {
  if (f.has(key)) fail_input(f.path(key), ": ", what, " is not supported yet (reserved for a later plan version)");
}

StagePlan read_stage(const Json& j, const std::string& where) {
  const JsonField f{j, where};
  f.reject_unknown_keys({"layers", "device", "node", "threads", "dtype", "devices"});
  refuse_reserved(f, "devices", "a list of devices per stage (tensor parallelism)");
  StagePlan s;
  const Json& layers = f.require("layers");
  if (layers.is_number_integer()) {
    const int64_t v = json_int(layers, f.path("layers"));
    if (v < 0 || v > 1000000) fail_input(f.path("layers"), ": layer ", v, " is out of range");
    s.first = s.last = static_cast<int>(v);
  } else if (layers.is_string()) {
    std::tie(s.first, s.last) = plan_parse_layers(layers.get<std::string>(), f.path("layers"));
  } else {
    fail_input(f.path("layers"), ": expected a layer range string like \"0-12\", got ", json_type_name(layers));
  }
  s.device = with_context(f.path("device"), [&] { return device_parse(f.require_string("device")); });
  s.node = read_int_in(f, "node", 0, 0, 65535);
  s.threads = read_int_in(f, "threads", 0, 0, 4096);
  if (s.threads > 0 && !s.device.is_cpu())
    fail_input(f.path("threads"), ": only a cpu stage takes threads (this stage runs on ", s.device.str(), ")");
  if (f.has("dtype")) s.dtype = read_dtype(f, "dtype");
  return s;
}

PlanPredictions read_predictions(const Json& j, const std::string& where) {
  const JsonField f{j, where};
  f.reject_unknown_keys({"method", "cluster", "profiled", "bottleneck_s", "makespan_s", "sequences_per_s",
                         "tokens_per_s", "bubble", "stages"});
  PlanPredictions p;
  p.method = f.get_string("method", "");
  p.cluster = f.get_string("cluster", "");
  p.profiled = f.get_bool("profiled", false);
  p.bottleneck_s = f.get_number("bottleneck_s", 0.0);
  p.makespan_s = f.get_number("makespan_s", 0.0);
  p.sequences_per_s = f.get_number("sequences_per_s", 0.0);
  p.tokens_per_s = f.get_number("tokens_per_s", 0.0);
  p.bubble = f.get_number("bubble", 0.0);
  if (f.has("stages")) {
    const Json& st = f.require("stages");
    if (!st.is_array()) fail_input(f.path("stages"), ": expected a list, got ", json_type_name(st));
    for (size_t i = 0; i < st.size(); ++i) {
      const JsonField sf{st[i], json_path(f.path("stages"), i)};
      sf.reject_unknown_keys({"params", "memory_bytes", "capacity_bytes", "compute_s", "send_s", "busy_s"});
      p.stages.push_back({sf.get_int("params", 0), sf.get_int("memory_bytes", 0), sf.get_int("capacity_bytes", 0),
                          sf.get_number("compute_s", 0.0), sf.get_number("send_s", 0.0), sf.get_number("busy_s", 0.0)});
    }
  }
  return p;
}

}  // namespace

std::pair<int, int> plan_parse_layers(const std::string& text, const std::string& where) {
  auto bad = [&]() -> std::pair<int, int> {
    fail_input(where, ": '", text, "' is not a layer range (expected \"first-last\", inclusive, e.g. \"0-12\", or one layer \"7\")");
  };
  auto read = [&](size_t& i, int& v) {
    const size_t start = i;
    int64_t x = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) && i - start < 7) x = x * 10 + (text[i++] - '0');
    v = static_cast<int>(x);
    return i > start;
  };
  size_t i = 0;
  int a = 0, b = 0;
  if (!read(i, a)) return bad();
  if (i == text.size()) return {a, a};
  if (text[i] != '-') return bad();
  ++i;
  if (!read(i, b) || i != text.size()) return bad();
  if (b < a) fail_input(where, ": '", text, "' runs backwards (the first layer must not exceed the last)");
  return {a, b};
}

std::string plan_layers_str(const StagePlan& s) {
  return s.first == s.last ? std::to_string(s.first) : std::to_string(s.first) + "-" + std::to_string(s.last);
}

Plan plan_from_json(const Json& j, const std::string& file) {
  return with_context(file, [&] {
    const JsonField f{j, ""};
    if (!j.is_object()) fail_input("expected a JSON object (a plan), got ", json_type_name(j));
    f.reject_unknown_keys({"version", "model", "dtype", "replicas", "micro_batches", "batch", "workload",
                           "predictions", "stages", "model_fingerprint"});
    Plan p;
    const int64_t version = f.get_int("version", kPlanVersion);
    if (version < 1) fail_input("version: must be >= 1, got ", version);
    if (version > kPlanVersion)
      fail_input("version: plan version ", version, " is newer than this pipeshard reads (", kPlanVersion, ")");
    refuse_reserved(f, "model_fingerprint", "checking the model's fingerprint");
    p.model = f.require_string("model");
    if (p.model.empty()) fail_input("model: must name the model folder");
    if (f.has("dtype")) p.dtype = read_dtype(f, "dtype");
    p.replicas = read_int_in(f, "replicas", 1, 1, 4096);
    Workload& w = p.workload;
    w.micro_batches = read_int_in(f, "micro_batches", 1, 1, 65536);
    w.batch = f.get_int("batch", w.micro_batches);
    if (w.batch > (1 << 24)) fail_input("batch: must be at most ", 1 << 24, " sequences per round, got ", w.batch);
    if (w.batch < w.micro_batches)
      fail_input("batch: ", w.batch, " sequences cannot fill ", w.micro_batches,
                 " micro-batches (batch is the sequences per round, split into micro_batches)");
    if (f.has("workload")) {
      const JsonField wf{f.require("workload"), "workload"};
      wf.reject_unknown_keys({"mode", "prompt_len", "max_new_tokens"});
      const std::string mode = wf.get_string("mode", "forward");
      const auto m = mode_parse(mode);
      if (!m) fail_input(wf.path("mode"), ": '", mode, "' is not a mode (forward, generate)");
      w.mode = *m;
      w.prompt_len = read_int_in(wf, "prompt_len", w.prompt_len, 1, 1 << 24);
      w.max_new_tokens = read_int_in(wf, "max_new_tokens", w.mode == Mode::Generate ? 32 : 0, 0, 1 << 24);
      if (w.mode == Mode::Generate && w.max_new_tokens < 1)
        fail_input(wf.path("max_new_tokens"), ": a generate workload makes at least 1 new token");
      if (w.mode == Mode::Forward && w.max_new_tokens != 0)
        fail_input(wf.path("max_new_tokens"), ": only a generate workload makes new tokens");
    }
    const Json& stages = f.require("stages");
    if (!stages.is_array()) fail_input("stages: expected a list of stages, got ", json_type_name(stages));
    if (stages.empty()) fail_input("stages: the plan has no stages (give at least one {\"layers\": \"0-N\", \"device\": \"cpu\"})");
    for (size_t i = 0; i < stages.size(); ++i) p.stages.push_back(read_stage(stages[i], json_path("stages", i)));
    if (f.has("predictions")) p.predictions = read_predictions(f.require("predictions"), "predictions");
    return p;
  });
}

std::string plan_dump(const Plan& p) {
  using OJ = nlohmann::ordered_json;
  std::vector<std::pair<std::string, std::string>> top;  // key, value text
  auto put = [&](const char* k, const OJ& v) { top.emplace_back(k, v.dump()); };
  put("version", p.version);
  put("model", p.model);
  if (p.dtype) put("dtype", dtype_name(*p.dtype));
  put("replicas", p.replicas);
  put("batch", p.workload.batch);
  put("micro_batches", p.workload.micro_batches);
  OJ w;
  w["mode"] = mode_name(p.workload.mode);
  w["prompt_len"] = p.workload.prompt_len;
  if (p.workload.mode == Mode::Generate) w["max_new_tokens"] = p.workload.max_new_tokens;
  put("workload", w);
  std::string stages = "[";
  for (size_t i = 0; i < p.stages.size(); ++i) {
    const StagePlan& s = p.stages[i];
    OJ sj;
    sj["layers"] = plan_layers_str(s);
    sj["device"] = s.device.str();
    sj["node"] = s.node;
    if (s.threads > 0) sj["threads"] = s.threads;
    if (s.dtype) sj["dtype"] = dtype_name(*s.dtype);
    stages += std::string(i ? "," : "") + "\n    " + sj.dump();
  }
  stages += "\n  ]";
  top.emplace_back("stages", stages);
  if (p.predictions) {
    const PlanPredictions& pr = *p.predictions;
    OJ pj;
    pj["method"] = pr.method;
    pj["cluster"] = pr.cluster;
    pj["profiled"] = pr.profiled;
    pj["bottleneck_s"] = pr.bottleneck_s;
    pj["makespan_s"] = pr.makespan_s;
    pj["sequences_per_s"] = pr.sequences_per_s;
    pj["tokens_per_s"] = pr.tokens_per_s;
    pj["bubble"] = pr.bubble;
    std::string text = pj.dump();
    text.pop_back();
    text += ",\n    \"stages\": [";
    for (size_t i = 0; i < pr.stages.size(); ++i) {
      const StagePrediction& s = pr.stages[i];
      OJ sj;
      sj["params"] = s.params;
      sj["memory_bytes"] = s.memory_bytes;
      sj["capacity_bytes"] = s.capacity_bytes;
      sj["compute_s"] = s.compute_s;
      sj["send_s"] = s.send_s;
      sj["busy_s"] = s.busy_s;
      text += std::string(i ? "," : "") + "\n      " + sj.dump();
    }
    text += "\n    ]}";
    top.emplace_back("predictions", text);
  }
  std::string out = "{";
  for (size_t i = 0; i < top.size(); ++i) out += std::string(i ? "," : "") + "\n  \"" + top[i].first + "\": " + top[i].second;
  return out + "\n}\n";
}

void plan_write(const Plan& plan, const std::string& path) { file_write_atomic(path, plan_dump(plan)); }

int plan_world_size(const Plan& plan) { return topology_world(topology_from_plan(plan)); }

RankPlacement plan_rank_placement(const Plan& plan, int rank) {
  const RankCoord c = coord_of(topology_from_plan(plan), rank);
  RankPlacement r;
  r.rank = rank;
  r.replica = c.replica;
  r.stage = c.stage;
  r.node = c.node;
  const StagePlan& s = plan.stages[static_cast<size_t>(r.stage)];
  r.device = s.device;
  if (!s.device.is_cpu()) {
    int stride = 0;  // 1 + the largest GPU index the stages use on this node
    for (const auto& o : plan.stages)
      if (o.node == s.node && !o.device.is_cpu()) stride = std::max(stride, o.device.index + 1);
    r.device.index += r.replica * stride;
  }
  return r;
}

std::string plan_model_dir(const Plan& plan, const std::string& plan_path) {
  const std::filesystem::path m(plan.model);
  if (m.is_absolute()) return m.string();
  const std::filesystem::path dir = std::filesystem::path(plan_path).parent_path();
  return (dir / m).lexically_normal().string();
}

}  // namespace ps
