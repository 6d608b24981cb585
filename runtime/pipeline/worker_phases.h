// The phases of one rank's run, in the order worker_run (worker.h) calls them. Each is a function
// from plain structs to a plain struct, so that each can be run and tested alone; a failure in
// any ends the job with its own message (worker_run puts the rank in front).
//
//   bring-up  rank_plan: the plan read for this rank (placement, dtypes, mode, flags over the
//             plan's workload); bring_up: the device first, then rank 0's store, the rendezvous,
//             the transport.
//   requests  job_agree: rank 0 reads the input, opens the journal and publishes the job's shape
//             (cache length, requests, those already done); first stages read the input too.
//   load      stage_load: only this stage's layers, on its device.
//   run       collector_start (rank 0: results journaled while the stages run), stage_run: the
//             engine (first stage) and the executor over the schedules.
//   shutdown  job_shutdown: every rank done with the store; rank 0 takes the collector's
//             outcome (its failure rethrown), checks every request has a result, writes the output.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "partitioner/plan_validate.h"
#include "partitioner/topology.h"
#include "runtime/comm/tcp_store_client.h"
#include "runtime/comm/tcp_store_server.h"
#include "runtime/comm/transport.h"
#include "runtime/core/thread_pool.h"
#include "runtime/models/stage_model.h"
#include "runtime/pipeline/results.h"
#include "runtime/pipeline/worker.h"
#include "runtime/placement/placement.h"

namespace ps {

struct RankPlan {
  LoadedPlan lp;
  Topology topo;
  RankPlacement place;
  Mode mode = Mode::Generate;
  GenerateDefaults defaults;                     // the flags, max_new_tokens defaulting to the plan's
  DType dtype = DType::F32, in_dtype = DType::F32;  // this stage's compute dtype; its input's (the previous stage's)
  std::string device_field;                      // "<plan>: stages[s].device", for messages

  const StagePlan& stage() const { return lp.plan.stages[static_cast<size_t>(place.stage)]; }
  bool first_stage() const { return place.stage == 0; }
};
RankPlan rank_plan(const WorkerOptions& o, const WorkerEnv& env);

// Members in the order they are made; destroyed in reverse (the transport before the store
// before rank 0's server).
struct BringUp {
  std::unique_ptr<StageDevice> device;
  std::unique_ptr<TcpStoreServer> server;  // rank 0
  TcpStoreClientOptions store_options;     // for more clients of the same store
  std::unique_ptr<TcpStoreClient> store;
  std::unique_ptr<Transport> transport;    // more than one stage
};
BringUp bring_up(const WorkerOptions& o, const WorkerEnv& env, const RankPlan& rp);

// What rank 0 decides for everyone from the whole input: the KV-cache length and the requests
// already done (resume). Published as "job/config" so every stage sizes its cache alike.
struct JobConfig {
  int64_t max_ctx = 1;
  size_t requests = 0;
  std::vector<int32_t> skip;
};

struct JobInput {
  std::vector<Request> reqs;               // first stages: the whole input
  std::unique_ptr<ResultJournal> journal;  // rank 0
  JobConfig config;                        // as rank 0 published it
};
JobInput job_agree(const WorkerOptions& o, const WorkerEnv& env, const RankPlan& rp, Store& store);
// The requests one replica runs: every replicas-th from its own index, less those done.
std::vector<size_t> replica_share(size_t requests, const std::vector<int32_t>& skip, int replica, int replicas);

struct LoadedStage {
  std::unique_ptr<ThreadPool> pool;  // CPU stages
  Checkpoint checkpoint;
  std::unique_ptr<StageModel> model;
  double load_s = 0;
};
LoadedStage stage_load(const WorkerOptions& o, const WorkerEnv& env, const RankPlan& rp, const StageDevice& device,
                       const JobConfig& job);

// Rank 0: starts collecting the replicas' results into the journal over a store client of its own.
std::unique_ptr<CollectorThread> collector_start(const BringUp& up, const RankPlan& rp, JobInput& job);
// Runs the stage to the end of the job (and writes its metrics when asked).
void stage_run(const WorkerOptions& o, const WorkerEnv& env, const RankPlan& rp, BringUp& up, JobInput& job,
               LoadedStage& stage);
// Marks this rank finished; rank 0 waits (up to `timeout`) for every rank, then finishes the
// collector (rethrowing its failure), checks that every request has a result and writes the output.
void job_shutdown(std::chrono::milliseconds timeout, const WorkerEnv& env, Store& store, JobInput& job,
                  CollectorThread* collector);

}  // namespace ps
