// The stage executor on its own: the stages of one replica run on threads of this process, over
// an in-memory transport that really moves the bytes (tests/support/memory_transport.h), on a
// tiny generated Llama. A 3-stage pipeline gives the results of a one-stage run; its messages go
// to the ranks its instructions name; a hand-made schedule with a wrong peer is refused before
// anything runs, naming the stage and the instruction.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "kernels/common/backend.h"
#include "runtime/engine/engine.h"
#include "runtime/engine/results_format.h"
#include "runtime/models/make_model.h"
#include "runtime/pipeline/executor.h"
#include "runtime/weights/checkpoint.h"
#include "support/memory_transport.h"
#include "support/test_support.h"

namespace ps {
namespace {

using std::chrono::milliseconds;

struct MapPublisher final : ResultPublisher {
  std::mutex mu;
  std::map<int32_t, std::string> got;
  void publish(int32_t request, const std::string& fields) override {
    std::lock_guard<std::mutex> lock(mu);
    got[request] = fields;
  }
};

// A tiny Llama written once for every test of this file.
struct TinyModel {
  test::TempDir dir;
  std::string path = dir.file("llama");
  ModelSpec spec;
  TinyModel() {
    MakeModelOptions o;
    o.family = Family::Llama;
    o.layers = 4;  // 6 plan layers: the embedding, 4 blocks, the head
    o.seed = 11;
    spec = make_model_spec(o);
    make_model_write(spec, o, path);
  }
};

const TinyModel& tiny() {
  static const TinyModel m;
  return m;
}

// Prompts of different lengths, so the micro-batches differ in rows and finish at different times.
std::vector<Request> requests(int vocab) {
  std::vector<Request> out;
  const int lens[] = {3, 7, 1, 5, 9};
  const int news[] = {4, 2, 6, 3, 5};
  for (int i = 0; i < 5; ++i) {
    Request r;
    r.id = str("r", i);
    for (int p = 0; p < lens[i]; ++p) r.prompt_ids.push_back((p * 31 + i * 7 + 3) % vocab);
    r.max_new_tokens = news[i];
    out.push_back(r);
  }
  return out;
}

struct PipelineSpec {
  Mode mode = Mode::Generate;
  int replicas = 1, stages = 1, replica = 0;
  int micro_batches = 2, slots = 4;
  ScheduleSource schedule;  // unset: the default
  std::vector<int> run_only;  // the stages to start; empty: all
  milliseconds timeout{3000};
};

struct PipelineRun {
  std::map<int32_t, std::string> results;       // request index -> result fields
  std::vector<std::string> errors;              // per stage, "" when it ran through
  std::vector<test::MemoryMessage> log;         // every message, in the order sends were posted
  std::vector<std::vector<InstructionEvent>> events;  // per stage
  std::vector<int> ranks;                       // per stage
  size_t unmatched = 0;
};

// Runs every stage of replica `p.replica` on a thread of its own. A stage that fails closes the
// transport, so the others end at once rather than at their deadlines.
PipelineRun run_pipeline(const std::vector<Request>& reqs, const PipelineSpec& p) {
  const TinyModel& m = tiny();
  const Topology topo = topology_make(p.replicas, p.stages);
  const GenerateDefaults defaults;
  const int64_t max_ctx = context_needed(p.mode, reqs, defaults, m.spec);
  const Checkpoint ckpt = Checkpoint::open(m.path);
  auto hub = test::MemoryHub::create(topology_world(topo));
  MapPublisher publisher;
  PublishingSink sink(publisher);
  ScoreFormatter scores(OutputFormat{false, 3}, publisher);
  FileSource source(reqs);
  EngineConfig ecfg;
  ecfg.mode = p.mode;
  ecfg.slots = p.slots;
  ecfg.groups = p.micro_batches;
  ecfg.max_ctx = max_ctx;
  ecfg.defaults = defaults;
  Engine engine(ecfg, source, sink);

  PipelineRun run;
  run.errors.resize(static_cast<size_t>(p.stages));
  run.events.resize(static_cast<size_t>(p.stages));
  std::vector<std::unique_ptr<StageModel>> models;
  std::vector<std::unique_ptr<Transport>> transports;
  const int layers = m.spec.num_layers();
  for (int s = 0; s < p.stages; ++s) {  // loaded in turn, before any thread starts
    const int first = s * layers / p.stages, last = (s + 1) * layers / p.stages - 1;
    models.push_back(stage_model_load(m.spec, ckpt, first, last, StageOptions{p.slots, max_ctx}));
    run.ranks.push_back(rank_of(topo, p.replica, s));
    transports.push_back(hub->transport(run.ranks.back()));
  }
  std::vector<std::thread> threads;
  for (int s = 0; s < p.stages; ++s) {
    if (!p.run_only.empty() && std::find(p.run_only.begin(), p.run_only.end(), s) == p.run_only.end()) continue;
    threads.emplace_back([&, s] {
      const size_t i = static_cast<size_t>(s);
      try {
        Workspace ws;
        const OpContext ctx{&backend_get(Device::cpu()), nullptr, nullptr, &ws};
        ExecutorConfig c;
        c.mode = p.mode;
        c.topology = topo;
        c.rank = run.ranks[i];
        c.micro_batches = p.micro_batches;
        c.schedule = p.schedule;
        c.slots = p.slots;
        c.max_ctx = max_ctx;
        c.timeout = p.timeout;
        c.record_events = true;
        StageExecutor exec(c, *models[i], ctx, transports[i].get(), s == 0 ? &engine : nullptr, &scores);
        exec.run();
        run.events[i] = exec.events();
      } catch (const std::exception& e) {
        run.errors[i] = e.what();
        hub->close(str("stage ", s, " failed"));
      }
    });
  }
  for (auto& t : threads) t.join();
  run.results = publisher.got;
  run.log = hub->log();
  run.unmatched = hub->unmatched();
  return run;
}

void expect_ran(const PipelineRun& r) {
  for (size_t s = 0; s < r.errors.size(); ++s) EXPECT_EQ(r.errors[s], "") << "stage " << s;
  EXPECT_EQ(r.unmatched, 0u) << "operations left unmatched";
}

// (a) Three stages give what one stage gives: the same tokens and the same scores.
TEST(StageExecutor, ThreeStagesGiveTheResultsOfOne) {
  const auto reqs = requests(static_cast<int>(tiny().spec.vocab_size));
  for (Mode mode : {Mode::Generate, Mode::Forward}) {
    PipelineSpec one;
    one.mode = mode;
    PipelineSpec three = one;
    three.stages = 3;
    const PipelineRun a = run_pipeline(reqs, one), b = run_pipeline(reqs, three);
    expect_ran(a);
    expect_ran(b);
    ASSERT_EQ(a.results.size(), reqs.size()) << mode_name(mode);
    EXPECT_EQ(b.results, a.results) << mode_name(mode);
    for (const auto& [i, fields] : a.results) {  // real results: no stop ids, so every one runs to its length
      const Json j = Json::parse(fields);
      if (mode == Mode::Generate) {
        EXPECT_EQ(j.at("output_ids").size(), static_cast<size_t>(*reqs[static_cast<size_t>(i)].max_new_tokens)) << fields;
        EXPECT_EQ(j.at("finish_reason"), "length") << fields;
      } else {
        EXPECT_EQ(j.at("top_logprobs").size(), 3u) << fields;
        EXPECT_EQ(j.at("next_token"), j.at("top_logprobs")[0][0]) << fields;
      }
    }
    EXPECT_TRUE(a.log.empty());  // one stage sends nothing
    EXPECT_FALSE(b.log.empty());
  }
}

// The messages one executed send instruction posts: an activation is its header, then (when it
// has rows) its metadata and the tensor; tokens are one int32 message.
std::vector<test::MemoryMessage> messages_of(const InstructionEvent& e, int src, int dst) {
  if (e.op == InstrKind::SendTokens) return {{src, dst, 0, false}};
  if (e.rows == 0) return {{src, dst, 0, false}};
  return {{src, dst, 0, false}, {src, dst, 0, false}, {src, dst, 0, true}};
}

// (b) Every message goes to the rank of the stage its instruction names, in the replica's part
// of the job: here replica 1 of two (ranks 3, 4, 5), so the topology's mapping is exercised.
TEST(StageExecutor, SendsGoToTheInstructionsPeer) {
  const auto reqs = requests(static_cast<int>(tiny().spec.vocab_size));
  PipelineSpec p;
  p.replicas = 2;
  p.replica = 1;
  p.stages = 3;
  const PipelineRun r = run_pipeline(reqs, p);
  expect_ran(r);
  ASSERT_EQ(r.ranks, (std::vector<int>{3, 4, 5}));
  const ScheduleSource schedule = schedule_source_default(p.stages, p.micro_batches);
  for (int s = 0; s < p.stages; ++s) {
    const int me = r.ranks[static_cast<size_t>(s)];
    std::vector<test::MemoryMessage> want, got;
    for (const InstructionEvent& e : r.events[static_cast<size_t>(s)]) {
      if (!op_is_send(e.op)) continue;
      // The instruction this event ran: the one of its op and micro-batch in its round's list.
      const RoundKind kind = e.round == 0 ? RoundKind::Prefill : RoundKind::Decode;
      int peer = -1;
      for (const Instruction& ins : schedule(kind, s))
        if (ins.op == e.op && ins.mb == e.mb) peer = ins.peer;
      ASSERT_GE(peer, 0) << "stage " << s << " ran " << op_code(e.op) << e.mb << " outside its schedule";
      for (const auto& msg : messages_of(e, me, r.ranks[static_cast<size_t>(peer)])) want.push_back(msg);
    }
    for (test::MemoryMessage msg : r.log)
      if (msg.src == me) {
        msg.bytes = 0;  // sizes are the wire format's business; where they go is the point
        got.push_back(msg);
      }
    EXPECT_FALSE(want.empty()) << "stage " << s;
    EXPECT_EQ(got, want) << "stage " << s;
  }
  // The activations went 3 -> 4 -> 5 and the tokens 5 -> 3; nothing reached replica 0.
  for (const auto& msg : r.log) {
    EXPECT_GE(msg.dst, 3);
    EXPECT_TRUE((msg.src == 3 && msg.dst == 4) || (msg.src == 4 && msg.dst == 5) || (msg.src == 5 && msg.dst == 3))
        << msg.src << " -> " << msg.dst;
  }
}

// A 3-stage forward run of one micro-batch whose hand-made schedule has `stage` send its
// activation to `peer` instead of the next stage.
PipelineSpec forward_with_send_peer(int stage, int peer) {
  PipelineSpec p;
  p.mode = Mode::Forward;
  p.stages = 3;
  p.micro_batches = 1;
  p.schedule = [stage, peer](RoundKind kind, int s) {
    std::vector<Instruction> list = make_schedule(kind, s, 3, 1);
    for (Instruction& ins : list)
      if (s == stage && ins.op == InstrKind::SendAct) ins.peer = peer;
    return list;
  };
  return p;
}

// (c) A hand-made schedule whose first stage sends its activations to stage 2 instead of 1 is
// refused by every stage before any instruction runs: the check's deadlock names the receive
// that would wait, and nothing is sent.
TEST(StageExecutor, WrongPeerInAHandMadeScheduleIsRefusedBeforeRunning) {
  const auto reqs = requests(static_cast<int>(tiny().spec.vocab_size));
  const PipelineRun r = run_pipeline(reqs, forward_with_send_peer(/*stage=*/0, /*peer=*/2));
  for (size_t s = 0; s < 3; ++s) {
    const std::string& e = r.errors[s];
    EXPECT_NE(e.find("schedule check failed at step"), std::string::npos) << e;
    EXPECT_NE(e.find("deadlock: 1RECV_F0 (rank 1) waits for SEND_F of micro-batch 0 from rank 0, which has finished "
                     "its list without having sent it"),
              std::string::npos)
        << e;
  }
  EXPECT_TRUE(r.log.empty());
  EXPECT_TRUE(r.results.empty());
}

// A peer outside the pipeline is refused before running, naming the instruction.
TEST(StageExecutor, PeerOutsideThePipelineNamesTheInstruction) {
  const auto reqs = requests(static_cast<int>(tiny().spec.vocab_size));
  const PipelineRun r = run_pipeline(reqs, forward_with_send_peer(/*stage=*/1, /*peer=*/7));
  for (size_t s = 0; s < 3; ++s)
    EXPECT_NE(r.errors[s].find("1SEND_F0 (rank 1) names peer 7, not another rank of 0..2"), std::string::npos)
        << r.errors[s];
  EXPECT_TRUE(r.log.empty());
}

// A schedule that pairs up but names a micro-batch the executor has no buffers for is refused.
TEST(StageExecutor, MicroBatchOutsideTheSlotsIsRefused) {
  const auto reqs = requests(static_cast<int>(tiny().spec.vocab_size));
  PipelineSpec p;
  p.mode = Mode::Forward;
  p.stages = 2;
  p.micro_batches = 1;
  p.schedule = [](RoundKind kind, int stage) {
    std::vector<Instruction> list = make_schedule(kind, stage, 2, 1);
    for (Instruction& ins : list) ins.mb = 5;
    return list;
  };
  const PipelineRun r = run_pipeline(reqs, p);
  EXPECT_EQ(r.errors[0], "rank 0 (replica 0 stage 0): forward instruction 0L5 names micro-batch 5 of 1");
  EXPECT_EQ(r.errors[1], "rank 1 (replica 0 stage 1): forward instruction 1RECV_F5 names micro-batch 5 of 1");
  EXPECT_TRUE(r.log.empty());
}

// A stage whose neighbour never starts ends at the executor's deadline, naming what it waited for.
TEST(StageExecutor, AMissingNeighbourTimesOutNamingTheWait) {
  const auto reqs = requests(static_cast<int>(tiny().spec.vocab_size));
  PipelineSpec p;
  p.stages = 3;
  p.run_only = {1};
  p.timeout = milliseconds(200);
  const PipelineRun r = run_pipeline(reqs, p);
  const std::string& e = r.errors[1];
  EXPECT_NE(e.find("memory rank 1: recv from rank 0 (message #0, "), std::string::npos) << e;
  EXPECT_NE(e.find("not done within 200 ms"), std::string::npos) << e;
}

}  // namespace
}  // namespace ps
