// pipeshard bench: run the real pipeline for each configuration of a sweep and report what it
// achieved next to what the planner predicted (runtime/bench/). For each configuration: make
// the plan, make seeded requests, run the one-stage reference once, then W warm-up and R measured
// runs of `pipeshard run` (this binary) with --metrics-dir; report the medians, and count as
// `wrong` the results that differ from the reference's.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "partitioner/plan_validate.h"
#include "runtime/bench/bench_plan.h"
#include "runtime/bench/bench_report.h"
#include "runtime/bench/bench_run.h"
#include "runtime/bench/progress.h"
#include "runtime/bench/trace.h"
#include "runtime/core/error.h"
#include "runtime/core/files.h"
#include "runtime/launch/process.h"
#include "tools/cli/args.h"
#include "tools/cli/commands.h"

namespace ps::cli {

namespace {

namespace fs = std::filesystem;

const std::vector<OptionSpec> kOptions = {
    {"plan", true, "a plan to benchmark (its stages; the workload comes from these flags)"},
    {"model", true, "model folder to plan for, with --cluster and --stages"},
    {"cluster", true, "cluster spec: plans (with --model), predicts (with --plan)"},
    {"stages", true, "pipeline stages (with --model)"},
    {"method", true, "uniform | params | optimal (default optimal)"},
    {"profile", true, "PROFILE.json with measured per-layer times for planning and prediction"},
    {"mode", true, "forward | generate (default: the plan's, else forward)"},
    {"micro-batches", true, "micro-batches per round (default: the plan's, else --stages)"},
    {"batch", true, "sequences per round (default: the plan's, else one per micro-batch)"},
    {"sweep", true, "key=v1,v2,...: micro_batches, batch or stages; repeat it to combine sweeps"},
    {"prompt-len", true, "prompt tokens per request (default: the plan's, else 128)"},
    {"max-new-tokens", true, "generate: tokens per request (default: the plan's, else 32)"},
    {"requests", true, "requests per run (default: the batch, one round)"},
    {"seed", true, "seed of the synthetic requests (default 1)"},
    {"warmup", true, "unmeasured runs per configuration (default 1)"},
    {"repeat", true, "measured runs per configuration; medians are reported (default 3)"},
    {"trace", false, "write <config dir>/trace.json (Chrome trace events) of the last run"},
    {"timeout-seconds", true, "deadline of every blocking wait in the runs (default 120)"},
    {"out-dir", true, "where results.json, results.csv and one folder per configuration go"},
    {"help", false, "show this help"},
};

// `--sweep` may repeat, which Args does not keep: take those out first.
std::vector<std::string> take_sweeps(const std::vector<std::string>& args, std::vector<Sweep>& sweeps) {
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--sweep") {
      if (i + 1 >= args.size()) fail_input("option --sweep needs a value");
      sweeps.push_back(sweep_parse(args[++i]));
    } else if (args[i].rfind("--sweep=", 0) == 0) {
      sweeps.push_back(sweep_parse(args[i].substr(8)));
    } else {
      rest.push_back(args[i]);
    }
  }
  return rest;
}

int64_t positive(const Args& a, const char* name, int64_t dflt, int64_t lo = 1) {
  return a.integer(name, dflt, lo, int64_t{1} << 24);
}

std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a.empty() ? "?" : a + " " + b + " " + c;
}

struct Bench {
  BenchSource src;
  std::string out_dir, exe;
  int warmup = 1, repeat = 3;
  uint64_t seed = 1;
  bool trace = false;
  std::string timeout = "120";
  ProgressLine progress;
};

// One `pipeshard run`; returns its results' lines. A failed run ends the benchmark with the
// tail of its log.
std::vector<std::string> run_once(const Bench& b, const std::string& dir, const std::string& plan,
                                  const std::string& tag, const BenchConfig& c) {
  const std::string out = dir + "/" + tag + ".jsonl", metrics = dir + "/" + tag + ".metrics",
                    log = dir + "/" + tag + ".log";
  fs::remove_all(metrics);
  fs::create_directories(metrics);
  fs::remove(out);
  fs::remove(log);
  const int rc =
      bench_run_logged({b.exe, "run", "--plan", plan, "--input", dir + "/requests.jsonl", "--output", out, "--mode",
                        mode_name(c.mode), "--metrics-dir", metrics, "--timeout-seconds", b.timeout},
                       log);
  if (rc != 0)
    fail_runtime("", bench_config_str(c), ": `pipeshard run` (", tag, ") exited with status ", rc, "; the end of ", log,
                 ":\n", bench_log_tail(log, 12));
  return bench_read_lines(out);
}

BenchRow bench_config(const Bench& b, const BenchConfig& c, size_t index, size_t total) {
  const std::string label = str("[", index + 1, "/", total, "] ", mode_name(c.mode), " ", bench_config_str(c));
  progress_update(b.progress, label + ": planning");
  const BenchPlans plans = bench_plans_make(b.src, c);
  const std::string name = str(index, "-P", c.stages, "-M", c.micro_batches, "-B", c.batch_or_default());
  const std::string dir = b.out_dir + "/" + name;
  fs::create_directories(dir);
  plan_write(plans.plan, dir + "/plan.json");
  plan_write(plans.reference, dir + "/reference-plan.json");
  file_write_atomic(dir + "/requests.jsonl", requests_synthetic(c.requests_or_default(), c.prompt_len, c.max_new_tokens,
                                                                b.src.spec->vocab_size, b.seed));

  BenchRow row;
  row.config = c;
  row.replicas = plans.plan.replicas;
  row.dir = name;
  row.predicted = plans.predicted;
  for (size_t s = 0; s < plans.plan.stages.size(); ++s) {
    row.layers.push_back(plan_layers_str(plans.plan.stages[s]));
    row.threads.push_back(bench_stage_threads(plans.plan, s));
  }
  auto spec_of = [&](const std::vector<std::string>& lines) {
    return MeasureSpec{c.mode, c.micro_batches, c.batch_or_default(), c.requests_or_default(),
                       bench_result_tokens(lines, c.mode, c.prompt_len)};
  };

  progress_update(b.progress, label + ": one-stage reference");
  const std::vector<std::string> reference = run_once(b, dir, dir + "/reference-plan.json", "reference", c);
  if (reference.size() != static_cast<size_t>(c.requests_or_default()))
    fail_runtime("the reference run wrote ", reference.size(), " results for ", c.requests_or_default(), " requests");
  row.reference_tokens_per_s =
      measure_run(rank_records_read(dir + "/reference.metrics"), spec_of(reference)).tokens_per_s;

  std::set<size_t> wrong;
  std::vector<RunMeasure> runs;
  for (int k = 0; k < b.warmup + b.repeat; ++k) {
    const bool warm = k < b.warmup;
    const std::string tag = warm ? str("warmup-", k) : str("run-", k - b.warmup);
    progress_update(
        b.progress,
        str(label, ": ", warm ? "warm-up " : "run ", warm ? k + 1 : k - b.warmup + 1, "/", warm ? b.warmup : b.repeat,
            runs.empty() ? "" : str(" (last ", static_cast<int>(runs.back().tokens_per_s), " tok/s)")));
    const std::vector<std::string> lines = run_once(b, dir, dir + "/plan.json", tag, c);
    bench_diff_results(reference, lines, wrong);
    if (warm) continue;
    runs.push_back(measure_run(rank_records_read(dir + "/" + tag + ".metrics"), spec_of(lines)));
    row.runs_tokens_per_s.push_back(runs.back().tokens_per_s);
    if (b.trace && k + 1 == b.warmup + b.repeat)
      trace_write_from_metrics(dir + "/" + tag + ".metrics", dir + "/trace.json");
  }
  row.measured = measure_median(runs);
  row.wrong = static_cast<int64_t>(wrong.size());
  progress_log(b.progress, str(label, ": ", static_cast<int>(row.measured.tokens_per_s), " tok/s, bubble ",
                               static_cast<int>(row.measured.bubble * 100 + 0.5), "%",
                               row.wrong ? str(", WRONG ", row.wrong) : ""));
  return row;
}

}  // namespace

int cmd_bench(const std::vector<std::string>& args) {
  std::vector<Sweep> sweeps;
  const Args a("bench", take_sweeps(args, sweeps), kOptions);
  if (a.flag("help")) {
    std::fputs(a.usage().c_str(), stdout);
    return 0;
  }
  if (a.has("plan") == a.has("model")) fail_input("give either --plan or --model (with --cluster and --stages)");

  Bench b;
  b.out_dir = a.required("out-dir");
  b.exe = process_self_exe();
  b.warmup = static_cast<int>(positive(a, "warmup", 1, 0));
  b.repeat = static_cast<int>(positive(a, "repeat", 3));
  b.seed = a.uint64("seed", 1);
  b.trace = a.flag("trace");
  b.timeout = str(a.number("timeout-seconds", 120, 0, kTimeoutSecondsMax, Args::Lower::Open));
  b.progress = progress_open(stderr);

  std::optional<ClusterSpec> cluster;
  if (a.has("cluster")) cluster = cluster_load(a.str("cluster", ""));
  std::optional<Profile> profile;
  if (a.has("profile")) profile = profile_load(a.str("profile", ""));
  if (profile && !cluster) fail_input("--profile needs --cluster (it refines the cluster's predictions)");
  b.src.cluster = cluster ? &*cluster : nullptr;
  b.src.profile = profile ? &*profile : nullptr;

  BenchConfig base;
  std::optional<LoadedPlan> given;
  if (a.has("plan")) {
    b.src.plan_path = a.str("plan", "");
    given = plan_load(*b.src.plan_path);
    base.mode = given->plan.workload.mode;
    base.stages = given->plan.num_stages();
    base.micro_batches = given->plan.workload.micro_batches;
    base.batch = given->plan.workload.batch;
    base.prompt_len = given->plan.workload.prompt_len;
    base.max_new_tokens = given->plan.workload.max_new_tokens;
    b.src.model_dir = given->model_dir;
    if (a.has("stages") || a.has("method")) fail_input("--stages and --method go with --model (the plan fixes them)");
  } else {
    b.src.model_dir = a.str("model", "");
    if (!cluster) fail_input("--model needs --cluster to plan with");
    const bool swept = std::any_of(sweeps.begin(), sweeps.end(), [](const Sweep& s) { return s.key == "stages"; });
    if (!a.has("stages") && !swept) fail_input("--model needs --stages (or --sweep stages=...)");
    base.stages = static_cast<int>(positive(a, "stages", 1));
    base.micro_batches = base.stages;
    const auto m = method_parse(a.str("method", "optimal"));
    if (!m) fail_input("--method '", a.str("method", ""), "' is not one of uniform, params, optimal");
    b.src.method = *m;
  }
  const ModelSpec spec = given ? given->spec : model_spec_load(b.src.model_dir);
  if (spec.family == Family::Mlp)
    fail_input("", b.src.model_dir, " is an mlp model; bench makes token prompts for transformers");
  b.src.spec = &spec;
  if (a.has("mode")) {
    const auto md = mode_parse(a.str("mode", ""));
    if (!md) fail_input("--mode '", a.str("mode", ""), "' is not one of forward, generate");
    base.mode = *md;
  }
  if (base.mode == Mode::Forward && a.has("max-new-tokens")) fail_input("--max-new-tokens needs --mode generate");
  base.micro_batches = static_cast<int>(positive(a, "micro-batches", base.micro_batches));
  base.batch = a.has("batch") ? positive(a, "batch", 1) : base.batch;
  base.prompt_len = positive(a, "prompt-len", base.prompt_len);
  base.max_new_tokens = base.mode == Mode::Generate
                            ? positive(a, "max-new-tokens", base.max_new_tokens > 0 ? base.max_new_tokens : 32)
                            : 0;
  base.requests = a.has("requests") ? positive(a, "requests", 1) : 0;
  const std::vector<BenchConfig> configs = sweep_expand(base, sweeps);
  for (const BenchConfig& c : configs) {  // before anything runs
    bench_config_check(c, spec.num_layers());
    if (given && c.stages != given->plan.num_stages())
      fail_input(*b.src.plan_path, " has ", given->plan.num_stages(), " stages; a stages sweep needs --model and --cluster");
  }

  fs::create_directories(b.out_dir);
  std::string command = "pipeshard bench";
  for (const std::string& s : args) command += " " + s;
  const std::string load_before = loadavg();
  progress_log(b.progress, str("bench: ", configs.size(), " configuration(s) of ", b.src.model_dir, ", ", b.warmup,
                               " warm-up + ", b.repeat, " run(s) each; load average ", load_before));
  std::vector<BenchRow> rows;
  for (size_t i = 0; i < configs.size(); ++i) rows.push_back(bench_config(b, configs[i], i, configs.size()));
  progress_clear(b.progress);

  const Json meta = {{"format", "pipeshard-bench"},
                     {"version", 1},
                     {"command", command},
                     {"model", b.src.model_dir},
                     {"cluster", cluster ? cluster->name : ""},
                     {"profile", profile ? profile->path : ""},
                     {"warmup", b.warmup},
                     {"repeat", b.repeat},
                     {"seed", b.seed},
                     {"cores", std::thread::hardware_concurrency()},
                     {"loadavg_before", load_before},
                     {"loadavg_after", loadavg()}};
  file_write_atomic(b.out_dir + "/results.json", bench_results_json(rows, meta).dump(2) + "\n");
  file_write_atomic(b.out_dir + "/results.csv", bench_results_csv(rows));
  std::fputs(bench_table(rows).c_str(), stdout);
  std::printf("wrote %s/results.json and results.csv (load average %s before, %s after)\n", b.out_dir.c_str(),
              load_before.c_str(), loadavg().c_str());
  int64_t wrong = 0;
  for (const BenchRow& r : rows) wrong += r.wrong;
  if (wrong > 0) {
    std::fprintf(stderr, "bench: %lld result(s) differ from the one-stage run\n", static_cast<long long>(wrong));
    return 1;
  }
  return 0;
}

}  // namespace ps::cli
