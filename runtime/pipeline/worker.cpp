#include "runtime/pipeline/worker.h"
#include "runtime/pipeline/worker_phases.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <unistd.h>

#include "partitioner/plan_validate.h"
#include "partitioner/topology.h"
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
#include "runtime/engine/engine.h"
#include "runtime/engine/results_format.h"
#include "runtime/models/stage_model.h"
#include "runtime/pipeline/executor.h"
#include "runtime/placement/placement.h"
#include "runtime/pipeline/rank_metrics.h"
#include "runtime/pipeline/results.h"

namespace ps {

namespace {

std::string job_config_encode(const JobConfig& c) {
  return Json{{"max_ctx", c.max_ctx}, {"requests", c.requests}, {"skip", c.skip}}.dump();
}

JobConfig job_config_decode(const std::string& s) {
  const Json j = Json::parse(s);
  return {j.at("max_ctx").get<int64_t>(), j.at("requests").get<size_t>(), j.at("skip").get<std::vector<int32_t>>()};
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

// Gloo between the pairs of ranks that talk (topology_links), and NCCL for the activations
// between this rank and each neighbouring stage on a GPU of its own (link_choice.h). Every rank
// publishes where it runs so that both ends of a pair route alike.
std::unique_ptr<Transport> pipeline_transport_create(Store& store, const WorkerEnv& env, const Topology& topo,
                                                     const RankPlacement& place, const std::string& bind,
                                                     std::chrono::milliseconds timeout, const StageDevice& dev) {
  GlooTransportOptions g;
  g.rank = env.rank;
  g.world = env.world;
  g.bind_address = bind;
  g.connect_timeout = timeout;
  g.peers = topology_link_peers(topo, env.rank);
  std::unique_ptr<Transport> gloo = gloo_transport_create(store, g);

  store_set_string(store, str("place/", env.rank), rank_place_encode(RankPlace{host_name(), place.device, ""}));
  std::vector<RankPlace> places;
  for (int r = 0; r < env.world; ++r)
    places.push_back(rank_place_decode(r, store_get_string(store, str("place/", r), timeout)));
  const PipelinePeers pp = pipeline_peers(topo, env.rank);
  std::vector<int> neighbours;  // the ranks activations come from and go to
  for (int n : {pp.prev, pp.next})
    if (n >= 0) neighbours.push_back(n);
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

RankPlan rank_plan(const WorkerOptions& o, const WorkerEnv& env) {
  RankPlan rp{plan_load(o.plan_path), {}, {}, Mode::Generate, o.defaults, DType::F32, DType::F32, ""};
  const Plan& plan = rp.lp.plan;
  const int P = plan.num_stages(), R = plan.replicas;
  rp.topo = topology_from_plan(plan);
  if (env.world != topology_world(rp.topo))
    fail_input(o.plan_path, ": the plan has ", R, " x ", P, " = ", topology_world(rp.topo),
               " ranks but the job was started with WORLD_SIZE=", env.world);
  rp.place = plan_rank_placement(plan, env.rank);
  const RankPlacement& place = rp.place;
  rp.device_field = str(o.plan_path, ": stages[", place.stage, "].device");
  // The dtypes this stage computes in and its input arrives in (the previous stage's).
  rp.dtype = stage_compute_dtype(place.device, plan.stage_dtype(static_cast<size_t>(place.stage)));
  rp.in_dtype = place.stage == 0 ? DType::F32
                                 : stage_compute_dtype(plan.stages[static_cast<size_t>(place.stage - 1)].device,
                                                       plan.stage_dtype(static_cast<size_t>(place.stage - 1)));
  rp.mode = o.mode.value_or(plan.workload.mode);
  if (!o.max_new_tokens_given && plan.workload.max_new_tokens > 0) rp.defaults.max_new_tokens = plan.workload.max_new_tokens;
  return rp;
}

BringUp bring_up(const WorkerOptions& o, const WorkerEnv& env, const RankPlan& rp) {
  const RankPlacement& place = rp.place;
  BringUp up;
  // The device first: a build or machine without it fails before joining the job.
  up.device = std::make_unique<StageDevice>(place.device, rp.device_field);
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
  if (env.rank == 0)
    up.server = std::make_unique<TcpStoreServer>(TcpStoreServerOptions{
        bind, static_cast<uint16_t>(env.store_port), env.job_token, std::chrono::milliseconds(10000)});
  up.store_options =
      TcpStoreClientOptions{env.master_addr, static_cast<uint16_t>(env.store_port), env.job_token, o.timeout, o.timeout};
  up.store = std::make_unique<TcpStoreClient>(up.store_options);
  TcpStoreClient& store = *up.store;
  rendezvous_join(store, env.rank, env.world, o.timeout);
  std::unique_ptr<Transport>& transport = up.transport;
  if (rp.lp.plan.num_stages() > 1)
    transport = pipeline_transport_create(store, env, rp.topo, place, bind, o.timeout, *up.device);
  if (transport) {
    // Test-only: corrupt this rank's first activation when asked (runtime/comm/fault_injection.h).
    if (auto hook = fault_hook_from_env(std::getenv(kFaultCorruptActivationEnv), env.rank))
      transport->set_fault_hook(std::move(hook));
  }
  return up;
}

JobInput job_agree(const WorkerOptions& o, const WorkerEnv& env, const RankPlan& rp, Store& store) {
  // Rank 0 decides the job's shape; first stages read their share.
  const bool first = rp.first_stage();
  JobInput job;
  if (first) job.reqs = requests_read(o.input, rp.lp.spec);
  if (env.rank == 0) {
    job.journal = std::make_unique<ResultJournal>(o.output, std::filesystem::absolute(o.input).string(),
                                                  job.reqs.size(), mode_name(rp.mode), o.resume);
    JobConfig jc{context_needed(rp.mode, job.reqs, rp.defaults, rp.lp.spec), job.reqs.size(), {}};
    jc.skip = job.journal->done();
    store_set_string(store, "job/config", job_config_encode(jc));
  }
  job.config = job_config_decode(store_get_string(store, "job/config", o.timeout));
  if (first && job.reqs.size() != job.config.requests)
    fail_input(o.input, ": has ", job.reqs.size(), " requests here but ", job.config.requests,
               " on rank 0 (a different file?)");
  return job;
}

std::vector<size_t> replica_share(size_t requests, const std::vector<int32_t>& skip, int replica, int replicas) {
  std::vector<size_t> share;
  const std::set<int32_t> done(skip.begin(), skip.end());
  for (size_t i = static_cast<size_t>(replica); i < requests; i += static_cast<size_t>(replicas))
    if (!done.count(static_cast<int32_t>(i))) share.push_back(i);
  return share;
}

LoadedStage stage_load(const WorkerOptions& o, const WorkerEnv& env, const RankPlan& rp, const StageDevice& dev,
                       const JobConfig& jc) {
  // This stage: its device, then only its own layers.
  const RankPlacement& place = rp.place;
  const StagePlan& sp = rp.stage();
  const auto load_t0 = std::chrono::steady_clock::now();
  const DType weights_dtype = place.device.is_cpu() ? DType::F32 : rp.dtype;
  dev.check_memory(
      stage_memory_estimate(rp.lp.spec, rp.lp.plan.workload, sp.first, sp.last, weights_dtype, rp.dtype, jc.max_ctx));
  auto pool = place.device.is_cpu() ? cpu_threads_setup(stage_threads(o, sp, env)) : nullptr;
  LoadedStage stage{std::move(pool), Checkpoint::open(rp.lp.model_dir), nullptr, 0};
  const int batch = static_cast<int>(rp.lp.plan.workload.batch);
  StageOptions so{batch, jc.max_ctx, place.device, rp.dtype, dev.stream()};
  stage.model = stage_model_load(rp.lp.spec, stage.checkpoint, sp.first, sp.last, so);
  stage.load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_t0).count();
  return stage;
}

std::unique_ptr<CollectorThread> collector_start(const BringUp& up, const RankPlan& rp, JobInput& job) {
  const size_t expected = job.config.requests - job.config.skip.size();
  return std::make_unique<CollectorThread>(std::make_unique<TcpStoreClient>(up.store_options), rp.lp.plan.replicas,
                                           expected, *job.journal);
}

void stage_run(const WorkerOptions& o, const WorkerEnv& env, const RankPlan& rp, BringUp& up, JobInput& job,
               LoadedStage& stage) {
  const RankPlacement& place = rp.place;
  const StageDevice& dev = *up.device;
  const int M = rp.lp.plan.workload.micro_batches;
  const int batch = static_cast<int>(rp.lp.plan.workload.batch);
  const JobConfig& jc = job.config;
  Workspace ws;
  const OpContext ctx{&dev.backend(), dev.stream(), stage.pool.get(), &ws};

  StoreResultPublisher publisher(*up.store, place.replica);
  PublishingSink sink(publisher);
  ScoreFormatter scores(OutputFormat{rp.lp.spec.family == Family::Mlp, o.top_logprobs}, publisher);
  std::unique_ptr<FileSource> source;
  std::unique_ptr<Engine> engine;
  if (rp.first_stage()) {
    source = std::make_unique<FileSource>(job.reqs,
                                          replica_share(job.reqs.size(), jc.skip, place.replica, rp.lp.plan.replicas));
    EngineConfig engine_cfg;
    engine_cfg.mode = rp.mode;
    engine_cfg.slots = batch;
    engine_cfg.groups = M;
    engine_cfg.max_ctx = jc.max_ctx;
    engine_cfg.defaults = rp.defaults;
    engine = std::make_unique<Engine>(engine_cfg, *source, sink);
  }
  ExecutorConfig ec;
  ec.mode = rp.mode;
  ec.topology = rp.topo;
  ec.rank = env.rank;
  ec.micro_batches = M;
  ec.slots = batch;
  ec.max_ctx = jc.max_ctx;
  ec.in_dtype = rp.in_dtype;
  ec.timeout = o.timeout;
  ec.record_events = !o.metrics_dir.empty();
  StageExecutor exec(ec, *stage.model, ctx, up.transport.get(), engine.get(), &scores);
  exec.run();
  if (!o.metrics_dir.empty())
    rank_metrics_write(o.metrics_dir,
                       RankMetrics{env.rank, place.replica, place.stage, stage.load_s, stage.model->weight_bytes(),
                                   up.transport ? up.transport->stats() : TransportStats{}},
                       exec);
}

void job_shutdown(std::chrono::milliseconds timeout, const WorkerEnv& env, Store& store, JobInput& job,
                  CollectorThread* collector) {
  store.add("job/finished", 1);
  if (env.rank != 0) return;
  // Every rank must be done with the store before it goes away with this process.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (store_get_string(store, "job/finished", timeout) != std::to_string(env.world)) {
    if (std::chrono::steady_clock::now() > deadline) fail_timeout("waiting for every rank to finish");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Results were published before each rank finished; give the collector the deadline too.
  PS_CHECK(collector && job.journal);
  collector->finish(deadline);
  if (job.journal->done_count() != job.config.requests)
    fail_runtime("results: ", job.journal->done_count(), " of ", job.config.requests, " requests have results");
  job.journal->finish(job.reqs);
}

int worker_run(const WorkerOptions& o, const WorkerEnv& env) {
  return with_context(str("rank ", env.rank), [&]() -> int {
    const RankPlan rp = rank_plan(o, env);
    BringUp up = bring_up(o, env, rp);
    JobInput job = job_agree(o, env, rp, *up.store);
    LoadedStage stage = stage_load(o, env, rp, *up.device, job.config);
    // Declared last: whatever throws from here on stops and joins the collector first.
    std::unique_ptr<CollectorThread> collector;
    if (env.rank == 0) collector = collector_start(up, rp, job);
    stage_run(o, env, rp, up, job, stage);
    job_shutdown(o.timeout, env, *up.store, job, collector.get());
    return 0;
  });
}

}  // namespace ps
