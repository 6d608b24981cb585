#include "runtime/pipeline/worker.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <unistd.h>

#include "partitioner/plan_validate.h"
#include "runtime/comm/fault_injection.h"
#include "runtime/comm/gloo_transport.h"
#include "runtime/comm/link_choice.h"
#include "runtime/comm/nccl_registry.h"
#include "runtime/comm/nccl_transport.h"
#include "runtime/comm/routed_transport.h"
#include "runtime/comm/net.h"
#include "runtime/comm/rendezvous.h"
#include "runtime/comm/tcp_store_client.h"
#include "runtime/comm/tcp_store_server.h"
#include "runtime/drivers/forward.h"
#include "runtime/drivers/local_model.h"
#include "runtime/pipeline/executor.h"
#include "runtime/placement/placement.h"
#include "runtime/pipeline/rank_metrics.h"
#include "runtime/pipeline/results.h"

namespace ps {

namespace {

// What rank 0 decides for everyone from the whole input: the KV-cache length and the requests
// already done (resume). Published as "job/config" so every stage sizes its cache alike.
struct JobConfig {
  int64_t max_ctx = 1;
  size_t requests = 0;
  std::vector<int32_t> skip;
};

std::string job_config_encode(const JobConfig& c) {
  return Json{{"max_ctx", c.max_ctx}, {"requests", c.requests}, {"skip", c.skip}}.dump();
}

JobConfig job_config_decode(const std::string& s) {
  const Json j = Json::parse(s);
  return {j.at("max_ctx").get<int64_t>(), j.at("requests").get<size_t>(), j.at("skip").get<std::vector<int32_t>>()};
}

int64_t context_needed(Mode mode, const std::vector<Request>& reqs, const GenerateDefaults& d, const ModelSpec& spec) {
  if (spec.family == Family::Mlp) return 1;
  return mode == Mode::Forward ? forward_context_needed(reqs) : generate_context_needed(reqs, d, spec.max_positions);
}

// A stage's compute threads: the plan's, the flag's, or the cores shared by this node's stages.
int stage_threads(const WorkerOptions& o, const StagePlan& stage, const WorkerEnv& env) {
  if (o.threads > 0) return o.threads;
  if (stage.threads > 0) return stage.threads;
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  return std::max(1, cores / std::max(1, env.local_world));
}

// This host's name, for telling which ranks share a node's GPUs.
std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

// Gloo between every pair of ranks, and NCCL for the activations between this rank and each
// neighbouring stage on a GPU of its own (link_choice.h). Every rank publishes where it runs so
// that both ends of a pair route alike.
std::unique_ptr<Transport> pipeline_transport_create(Store& store, const WorkerEnv& env, const Plan& plan,
                                                     const RankPlacement& place, const std::string& bind,
                                                     std::chrono::milliseconds timeout, const StageDevice& dev) {
  GlooTransportOptions g;
  g.rank = env.rank;
  g.world = env.world;
  g.bind_address = bind;
  g.connect_timeout = timeout;
  std::unique_ptr<Transport> gloo = gloo_transport_create(store, g);

  store_set_string(store, str("place/", env.rank), rank_place_encode(RankPlace{host_name(), place.device, ""}));
  std::vector<RankPlace> places;
  for (int r = 0; r < env.world; ++r)
    places.push_back(rank_place_decode(r, store_get_string(store, str("place/", r), timeout)));
  std::vector<int> neighbours;
  if (place.stage > 0) neighbours.push_back(env.rank - 1);
  if (place.stage + 1 < plan.num_stages()) neighbours.push_back(env.rank + 1);
  const std::set<int> peers = device_peers(env.rank, neighbours, places);
  if (!place.device.is_cpu()) {
    for (int n : neighbours)
      if (!peers.count(n))
        std::fprintf(stderr, "rank %d: activations with rank %d go through host memory over Gloo (%s)\n", env.rank, n,
                     places[static_cast<size_t>(n)].device.is_cpu() ? "it runs on a CPU" : "it shares this GPU");
  }
  if (peers.empty()) return gloo;
  const NcclApi* api = nccl_api_built();
  if (!api)
    fail_input(dev.where(), ": '", place.device.str(), "' exchanges activations with a neighbouring GPU over NCCL,",
               " which this build lacks (NCCL was not found at configure time)");
  NcclTransportOptions n;
  n.rank = env.rank;
  n.world = env.world;
  n.device = place.device.index;
  n.compute_stream = dev.stream();
  n.init_timeout = timeout;
  n.op_timeout = timeout;
  return routed_transport_create(std::move(gloo), nccl_transport_create(store, *api, std::move(n)), peers);
}

}  // namespace

int worker_run(const WorkerOptions& o, const WorkerEnv& env) {
  const std::string me = str("rank ", env.rank);
  return with_context(me, [&]() -> int {
    LoadedPlan lp = plan_load(o.plan_path);
    const Plan& plan = lp.plan;
    const ModelSpec& spec = lp.spec;
    const int P = plan.num_stages(), R = plan.replicas, M = plan.workload.micro_batches;
    const int batch = static_cast<int>(plan.workload.batch);
    if (env.world != plan_world_size(plan))
      fail_input(o.plan_path, ": the plan has ", R, " x ", P, " = ", plan_world_size(plan),
                 " ranks but the job was started with WORLD_SIZE=", env.world);
    const RankPlacement place = plan_rank_placement(plan, env.rank);
    const StagePlan& sp = plan.stages[static_cast<size_t>(place.stage)];
    const std::string device_field = str(o.plan_path, ": stages[", place.stage, "].device");
    // The dtypes this stage computes in and its input arrives in (the previous stage's).
    const DType dtype = stage_compute_dtype(place.device, plan.stage_dtype(static_cast<size_t>(place.stage)));
    const DType in_dtype =
        place.stage == 0 ? DType::F32
                         : stage_compute_dtype(plan.stages[static_cast<size_t>(place.stage - 1)].device,
                                               plan.stage_dtype(static_cast<size_t>(place.stage - 1)));
    // The device first: a build or machine without it fails before joining the job.
    const StageDevice dev(place.device, device_field);
    const Mode mode = o.mode.value_or(plan.workload.mode);
    GenerateDefaults defaults = o.defaults;
    if (!o.max_new_tokens_given && plan.workload.max_new_tokens > 0) defaults.max_new_tokens = plan.workload.max_new_tokens;
    executor_check_schedules(mode, P, M);
    if (!o.metrics_dir.empty()) {  // before any work: a bad folder must not cost the run
      std::error_code ec;
      std::filesystem::create_directories(o.metrics_dir, ec);
      if (ec || !std::filesystem::is_directory(o.metrics_dir))
        fail_input("--metrics-dir: ", o.metrics_dir, ": cannot create the folder (", ec.message(), ")");
    }

    // ---- join the job -------------------------------------------------------------------
    if (env.job_token.empty())
      fail_input("PIPESHARD_JOB_TOKEN is not set: start workers with `pipeshard run` or tools/launch.sh, or set it");
    const bool single_node = env.master_addr == "127.0.0.1" || env.master_addr == "localhost";
    const std::string bind = !o.bind_address.empty() ? o.bind_address
                             : single_node           ? std::string("127.0.0.1")
                                                     : local_address_for(env.master_addr);
    std::unique_ptr<TcpStoreServer> server;
    if (env.rank == 0)
      server = std::make_unique<TcpStoreServer>(TcpStoreServerOptions{
          bind, static_cast<uint16_t>(env.store_port), env.job_token, std::chrono::milliseconds(10000)});
    TcpStoreClientOptions copt{env.master_addr, static_cast<uint16_t>(env.store_port), env.job_token, o.timeout, o.timeout};
    TcpStoreClient store(copt);
    rendezvous_join(store, env.rank, env.world, o.timeout);
    std::unique_ptr<Transport> transport;
    if (P > 1) transport = pipeline_transport_create(store, env, plan, place, bind, o.timeout, dev);
    if (transport) {
      // Test-only: corrupt this rank's first activation when asked (runtime/comm/fault_injection.h).
      if (auto hook = fault_hook_from_env(std::getenv(kFaultCorruptActivationEnv), env.rank))
        transport->set_fault_hook(std::move(hook));
    }

    // ---- the requests: rank 0 decides the job's shape; first stages read their share ------
    const bool first = place.stage == 0;
    std::vector<Request> reqs;
    if (first) reqs = requests_read(o.input, spec);
    std::unique_ptr<ResultJournal> journal;
    if (env.rank == 0) {
      journal = std::make_unique<ResultJournal>(o.output, std::filesystem::absolute(o.input).string(), reqs.size(),
                                                mode_name(mode), o.resume);
      JobConfig jc{context_needed(mode, reqs, defaults, spec), reqs.size(), {}};
      jc.skip = journal->done();
      store_set_string(store, "job/config", job_config_encode(jc));
    }
    const JobConfig jc = job_config_decode(store_get_string(store, "job/config", o.timeout));
    if (first && reqs.size() != jc.requests)
      fail_input(o.input, ": has ", reqs.size(), " requests here but ", jc.requests, " on rank 0 (a different file?)");

    // ---- this stage: its device, then only its own layers -----------------------------------
    const auto load_t0 = std::chrono::steady_clock::now();
    const DType weights_dtype = place.device.is_cpu() ? DType::F32 : dtype;
    dev.check_memory(stage_memory_estimate(spec, plan.workload, sp.first, sp.last, weights_dtype, dtype, jc.max_ctx));
    auto pool = place.device.is_cpu() ? cpu_threads_setup(stage_threads(o, sp, env)) : nullptr;
    Checkpoint ckpt = Checkpoint::open(lp.model_dir);
    StageOptions so{batch, jc.max_ctx, place.device, dtype, dev.stream()};
    auto model = stage_model_load(spec, ckpt, sp.first, sp.last, so);
    const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_t0).count();
    Workspace ws;
    const OpContext ctx{&dev.backend(), dev.stream(), pool.get(), &ws};

    StoreResultSink sink(store, place.replica);
    std::unique_ptr<RequestFeed> feed;
    if (first) {
      std::vector<size_t> share;
      const std::set<int32_t> skip(jc.skip.begin(), jc.skip.end());
      for (size_t i = static_cast<size_t>(place.replica); i < reqs.size(); i += static_cast<size_t>(R))
        if (!skip.count(static_cast<int32_t>(i))) share.push_back(i);
      feed = std::make_unique<RequestFeed>(reqs, share, FeedConfig{mode, batch, M, jc.max_ctx, defaults}, sink);
    }
    ExecutorConfig ec;
    ec.mode = mode;
    ec.stage = place.stage;
    ec.stages = P;
    ec.micro_batches = M;
    ec.replica = place.replica;
    ec.first_rank = place.replica * P;
    ec.top_logprobs = o.top_logprobs;
    ec.slots = batch;
    ec.max_ctx = jc.max_ctx;
    ec.in_dtype = in_dtype;
    ec.timeout = o.timeout;
    ec.record_events = !o.metrics_dir.empty();
    StageExecutor exec(ec, *model, ctx, transport.get(), feed.get(), &sink);

    // ---- run; rank 0 collects results meanwhile --------------------------------------------
    std::atomic<bool> stop{false}, collected{false};
    std::thread collector;
    std::unique_ptr<TcpStoreClient> collector_store;
    const size_t expected = jc.requests - jc.skip.size();
    if (env.rank == 0) {
      collector_store = std::make_unique<TcpStoreClient>(copt);
      collector = std::thread([&] {
        try {
          results_collect(*collector_store, R, expected, *journal, stop);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "rank 0: collecting results failed: %s\n", e.what());
        }
        collected = true;
      });
    }
    // Whatever throws from here on (the executor, the metrics file, the final waits) must stop and
    // join the collector first: destroying a joinable std::thread calls std::terminate (SIGABRT).
    struct CollectorStop {
      std::atomic<bool>& stop;
      std::thread& thread;
      ~CollectorStop() {
        stop = true;
        if (thread.joinable()) thread.join();
      }
    } collector_stop{stop, collector};
    exec.run();
    if (!o.metrics_dir.empty())
      rank_metrics_write(o.metrics_dir,
                         RankMetrics{env.rank, place.replica, place.stage, load_s, model->weight_bytes(),
                                     transport ? transport->stats() : TransportStats{}},
                         exec);
    store.add("job/finished", 1);
    if (env.rank == 0) {
      // Every rank must be done with the store before it goes away with this process.
      const auto deadline = std::chrono::steady_clock::now() + o.timeout;
      while (store_get_string(store, "job/finished", o.timeout) != std::to_string(env.world)) {
        if (std::chrono::steady_clock::now() > deadline) fail_timeout("waiting for every rank to finish");
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      // Results were published before each rank finished; give the collector the deadline too.
      while (!collected && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      stop = true;
      collector.join();
      if (journal->done_count() != jc.requests)
        fail_runtime("results: ", journal->done_count(), " of ", jc.requests, " requests have results");
      journal->finish(reqs);
    }
    return 0;
  });
}

}  // namespace ps
