// `pipeshard worker` started without our launcher, with the environment that torchrun, SLURM's
// srun and Open MPI's mpirun give it -- and once by a real `mpirun` -- runs the same pipeline and
// writes the same output as `pipeshard run`.
#include <gtest/gtest.h>

#include "integration/integration_util.h"

namespace ps::integ {
namespace {

constexpr int kWorld = 2;
const std::string kToken = "integration-launch-env";

struct Job {
  test::TempDir dir;
  std::string plan, input, expected;

  Job() {
    make_model(dir.path(), "gpt2");
    std::vector<Json> reqs = mixed_requests(10, 10, 8, 3);
    input = dir.file("requests.jsonl");
    write_jsonl(input, reqs);
    PlanSpec p;
    p.model = "gpt2";
    p.stages = kWorld;
    p.batch = 4;
    p.micro_batches = 2;
    plan = write_plan(dir.file("env.plan.json"), p);
    const std::string out = dir.file("run.jsonl");
    const auto r = pipeshard({"run", "--plan", plan, "--input", input, "--output", out}, dir.file("run"));
    if (r.exit_code != 0) throw std::runtime_error("pipeshard run failed: " + r.err);
    expected = test::read_text(out);
  }

  std::vector<std::string> worker_argv(const std::string& out) const {
    return {pipeshard_bin(), "worker", "--plan", plan, "--input", input, "--output", out, "--timeout-seconds", "30"};
  }

  // Starts one worker per rank with env_of(rank) on top of a clean environment; returns the
  // output after every worker exited 0.
  template <typename EnvOf>
  std::string by_hand(const std::string& name, EnvOf env_of) {
    const std::string out = dir.file(name + ".jsonl");
    std::vector<std::unique_ptr<Proc>> procs;
    for (int r = 0; r < kWorld; ++r)
      procs.push_back(std::make_unique<Proc>(worker_argv(out), with(clean_env(), env_of(r)),
                                             dir.file(name + "-rank" + std::to_string(r))));
    for (int r = 0; r < kWorld; ++r) EXPECT_EQ(procs[static_cast<size_t>(r)]->wait(60s), 0) << name << " rank " << r
                                                                                          << ":\n"
                                                                                          << procs[static_cast<size_t>(r)]->err();
    return test::file_exists(out) ? test::read_text(out) : "";
  }
};

TEST(LaunchEnv, TorchrunWithTheAgentStoreLeavesMasterPortAlone) {
  Job job;
  // torchrun's agent holds MASTER_PORT (TORCHELASTIC_USE_AGENT_STORE=True): we hold it here, so a
  // worker that binds it fails; ours must use MASTER_PORT + 1 and never connect to the agent's.
  const int port = free_port_pair();
  HeldPort agent(port);
  ASSERT_TRUE(agent.ok());
  const std::string out = job.by_hand("torchrun", [&](int r) {
    return Env{{"RANK", std::to_string(r)},
               {"WORLD_SIZE", std::to_string(kWorld)},
               {"LOCAL_RANK", std::to_string(r)},
               {"LOCAL_WORLD_SIZE", std::to_string(kWorld)},
               {"GROUP_RANK", "0"},
               {"GROUP_WORLD_SIZE", "1"},
               {"ROLE_RANK", std::to_string(r)},
               {"MASTER_ADDR", "127.0.0.1"},
               {"MASTER_PORT", std::to_string(port)},
               {"TORCHELASTIC_USE_AGENT_STORE", "True"},
               {"TORCHELASTIC_RUN_ID", "integration"},
               {"PIPESHARD_JOB_TOKEN", kToken}};
  });
  EXPECT_EQ(out, job.expected);
  EXPECT_FALSE(agent.was_connected()) << "a worker connected to the agent's MASTER_PORT";
}

TEST(LaunchEnv, Slurm) {
  Job job;
  const int port = free_port();
  const std::string out = job.by_hand("slurm", [&](int r) {
    return Env{{"SLURM_PROCID", std::to_string(r)},
               {"SLURM_NTASKS", std::to_string(kWorld)},
               {"SLURM_LOCALID", std::to_string(r)},
               {"SLURM_NODEID", "0"},
               {"SLURM_NNODES", "1"},
               {"SLURM_STEP_TASKS_PER_NODE", std::to_string(kWorld)},
               {"SLURM_JOB_ID", "4242"},
               {"MASTER_ADDR", "127.0.0.1"},
               {"MASTER_PORT", std::to_string(port)},
               {"PIPESHARD_JOB_TOKEN", kToken}};
  });
  EXPECT_EQ(out, job.expected);
}

TEST(LaunchEnv, OpenMpiVariables) {
  Job job;
  const int port = free_port();
  const std::string out = job.by_hand("openmpi", [&](int r) {
    return Env{{"OMPI_COMM_WORLD_RANK", std::to_string(r)},
               {"OMPI_COMM_WORLD_SIZE", std::to_string(kWorld)},
               {"OMPI_COMM_WORLD_LOCAL_RANK", std::to_string(r)},
               {"OMPI_COMM_WORLD_LOCAL_SIZE", std::to_string(kWorld)},
               {"OMPI_COMM_WORLD_NODE_RANK", std::to_string(r)},
               {"MASTER_ADDR", "127.0.0.1"},
               {"MASTER_PORT", std::to_string(port)},
               {"PIPESHARD_JOB_TOKEN", kToken}};
  });
  EXPECT_EQ(out, job.expected);
}

TEST(LaunchEnv, RealMpirun) {
  const std::string mpirun = find_program("mpirun");
  if (mpirun.empty()) {
    if (in_ci()) FAIL() << "mpirun not found: CI must install openmpi-bin (tools/setup.sh)";
    GTEST_SKIP() << "mpirun not found (apt-get install openmpi-bin); required under CI";
  }
  Job job;
  const std::string out = job.dir.file("mpirun.jsonl");
  std::vector<std::string> argv = {mpirun, "--allow-run-as-root", "--oversubscribe", "-np", std::to_string(kWorld),
                                   "-x", "PIPESHARD_JOB_TOKEN", "-x", "MASTER_ADDR", "-x", "MASTER_PORT"};
  const auto worker = job.worker_argv(out);
  argv.insert(argv.end(), worker.begin(), worker.end());
  Proc p(argv,
         with(clean_env(), {{"PIPESHARD_JOB_TOKEN", kToken},
                            {"MASTER_ADDR", "127.0.0.1"},
                            {"MASTER_PORT", std::to_string(free_port())}}),
         job.dir.file("mpirun"));
  ASSERT_EQ(p.wait(90s), 0) << p.out() << p.err();
  EXPECT_EQ(test::read_text(out), job.expected);
}

}  // namespace
}  // namespace ps::integ
