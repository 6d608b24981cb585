// worker_env_resolve: who a worker is, from the variables each launcher sets.
#include <gtest/gtest.h>

#include "runtime/core/error.h"
#include "runtime/launch/worker_env.h"

namespace ps {
namespace {

// Expects InvalidInput whose message holds every one of `parts`.
void expect_bad(const EnvMap& env, std::initializer_list<const char*> parts) {
  try {
    worker_env_resolve(env);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidInput) << e.what();
    for (const char* p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what() << " lacks " << p;
  }
}

TEST(WorkerEnv, NoLauncherIsOneProcess) {
  const WorkerEnv w = worker_env_resolve({{"HOME", "/root"}});
  EXPECT_EQ(w.launcher, "single");
  EXPECT_EQ(w.rank, 0);
  EXPECT_EQ(w.world, 1);
  EXPECT_EQ(w.local_rank, 0);
  EXPECT_EQ(w.local_world, 1);
  EXPECT_EQ(w.master_addr, "127.0.0.1");
  EXPECT_EQ(w.master_port, 29500);
  EXPECT_EQ(w.store_port, 29500);
  EXPECT_EQ(w.job_token, "");
}

TEST(WorkerEnv, Torchrun) {
  const WorkerEnv w = worker_env_resolve({{"RANK", "5"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"},
                                          {"LOCAL_WORLD_SIZE", "4"}, {"GROUP_RANK", "1"}, {"MASTER_ADDR", "node0"},
                                          {"MASTER_PORT", "29400"}, {"PIPESHARD_JOB_TOKEN", "s3cret"}});
  EXPECT_EQ(w.launcher, "torchrun");
  EXPECT_EQ(w.rank, 5);
  EXPECT_EQ(w.world, 8);
  EXPECT_EQ(w.local_rank, 1);
  EXPECT_EQ(w.local_world, 4);
  EXPECT_EQ(w.node_rank, 1);
  EXPECT_EQ(w.master_addr, "node0");
  EXPECT_EQ(w.master_port, 29400);
  EXPECT_EQ(w.store_port, 29400);
  EXPECT_EQ(w.job_token, "s3cret");
}

TEST(WorkerEnv, OurLauncherNamesItself) {
  const WorkerEnv w = worker_env_resolve({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"PIPESHARD_LAUNCHER", "pipeshard"}});
  EXPECT_EQ(w.launcher, "pipeshard");
  EXPECT_EQ(w.local_world, 2);  // LOCAL_WORLD_SIZE unset: everything is local
}

TEST(WorkerEnv, TorchelasticAgentStoreMovesOurStoreToTheNextPort) {
  EnvMap env{{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "29400"}, {"TORCHELASTIC_USE_AGENT_STORE", "True"}};
  EXPECT_EQ(worker_env_resolve(env).store_port, 29401);
  EXPECT_EQ(worker_env_resolve(env).master_port, 29400);
  env["TORCHELASTIC_USE_AGENT_STORE"] = "False";
  EXPECT_EQ(worker_env_resolve(env).store_port, 29400);
  env["TORCHELASTIC_USE_AGENT_STORE"] = "True";
  env["PIPESHARD_STORE_PORT"] = "31000";  // an explicit port wins
  EXPECT_EQ(worker_env_resolve(env).store_port, 31000);
  expect_bad({{"MASTER_PORT", "65535"}, {"TORCHELASTIC_USE_AGENT_STORE", "true"}},
             {"MASTER_PORT=65535", "PIPESHARD_STORE_PORT"});
}

TEST(WorkerEnv, SlurmWithCompressedTaskCounts) {
  const WorkerEnv w = worker_env_resolve({{"SLURM_PROCID", "3"}, {"SLURM_NTASKS", "4"}, {"SLURM_LOCALID", "1"},
                                          {"SLURM_NODEID", "1"}, {"SLURM_STEP_TASKS_PER_NODE", "2(x2)"},
                                          {"MASTER_ADDR", "n0"}});
  EXPECT_EQ(w.launcher, "slurm");
  EXPECT_EQ(w.rank, 3);
  EXPECT_EQ(w.world, 4);
  EXPECT_EQ(w.local_rank, 1);
  EXPECT_EQ(w.local_world, 2);
  EXPECT_EQ(w.node_rank, 1);
  EXPECT_EQ(w.master_addr, "n0");
}

TEST(WorkerEnv, SlurmUnevenNodes) {
  // "3,2(x2),1" = 3,2,2,1 tasks on nodes 0..3.
  const int expected[] = {3, 2, 2, 1};
  for (int node = 0; node < 4; ++node) {
    const WorkerEnv w = worker_env_resolve({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "0"},
                                            {"SLURM_NODEID", std::to_string(node)},
                                            {"SLURM_STEP_TASKS_PER_NODE", "3,2(x2),1"}, {"MASTER_ADDR", "n0"}});
    EXPECT_EQ(w.local_world, expected[node]) << "node " << node;
  }
  expect_bad({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "3"}, {"SLURM_NODEID", "2"},
              {"SLURM_STEP_TASKS_PER_NODE", "2,1"}, {"MASTER_ADDR", "n0"}},
             {"SLURM_STEP_TASKS_PER_NODE", "lists 2 nodes"});
  expect_bad({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "4"}, {"SLURM_STEP_TASKS_PER_NODE", "2(x2"}},
             {"SLURM_STEP_TASKS_PER_NODE", "2(x2"});
}

TEST(WorkerEnv, SlurmFallsBackToNtasksPerNode) {
  const WorkerEnv w = worker_env_resolve({{"SLURM_PROCID", "2"}, {"SLURM_NTASKS", "4"}, {"SLURM_LOCALID", "0"},
                                          {"SLURM_NODEID", "1"}, {"SLURM_NTASKS_PER_NODE", "2"}, {"MASTER_ADDR", "n0"}});
  EXPECT_EQ(w.local_world, 2);
}

TEST(WorkerEnv, OpenMpiDoesNotNameTheNode) {
  const WorkerEnv w = worker_env_resolve({{"OMPI_COMM_WORLD_RANK", "2"}, {"OMPI_COMM_WORLD_SIZE", "4"},
                                          {"OMPI_COMM_WORLD_LOCAL_RANK", "0"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"},
                                          {"OMPI_COMM_WORLD_NODE_RANK", "0"}, {"MASTER_ADDR", "h0"}});
  EXPECT_EQ(w.launcher, "openmpi");
  EXPECT_EQ(w.rank, 2);
  EXPECT_EQ(w.world, 4);
  EXPECT_EQ(w.local_rank, 0);
  EXPECT_EQ(w.local_world, 2);
  EXPECT_EQ(w.node_rank, -1);
}

TEST(WorkerEnv, PrecedenceTorchrunThenOpenMpiThenSlurm) {
  // mpirun inside a SLURM allocation: SLURM_PROCID belongs to the MPI daemon.
  EXPECT_EQ(worker_env_resolve({{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2"},
                                {"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}})
                .launcher,
            "openmpi");
  const WorkerEnv w = worker_env_resolve(
      {{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"OMPI_COMM_WORLD_RANK", "0"}, {"OMPI_COMM_WORLD_SIZE", "1"}});
  EXPECT_EQ(w.launcher, "torchrun");
  EXPECT_EQ(w.rank, 1);
}

TEST(WorkerEnv, EmptyValuesAreUnset) {
  EXPECT_EQ(worker_env_resolve({{"RANK", ""}, {"WORLD_SIZE", "abc"}}).launcher, "single");
}

TEST(WorkerEnv, BadValuesNameTheVariable) {
  expect_bad({{"RANK", "abc"}, {"WORLD_SIZE", "2"}}, {"RANK", "'abc'"});
  expect_bad({{"RANK", "1 "}, {"WORLD_SIZE", "2"}}, {"RANK"});
  expect_bad({{"RANK", "-1"}, {"WORLD_SIZE", "2"}}, {"RANK", "-1"});
  expect_bad({{"RANK", "2"}, {"WORLD_SIZE", "2"}}, {"RANK=2 is not below WORLD_SIZE=2"});
  expect_bad({{"RANK", "0"}}, {"RANK is set but WORLD_SIZE is not"});
  expect_bad({{"RANK", "0"}, {"WORLD_SIZE", "0"}}, {"WORLD_SIZE"});
  expect_bad({{"RANK", "0"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "2"}, {"LOCAL_WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}},
             {"LOCAL_RANK=2 is not below LOCAL_WORLD_SIZE=2"});
  expect_bad({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"LOCAL_WORLD_SIZE", "3"}}, {"LOCAL_WORLD_SIZE=3 is above WORLD_SIZE=2"});
  expect_bad({{"OMPI_COMM_WORLD_RANK", "x"}, {"OMPI_COMM_WORLD_SIZE", "2"}}, {"OMPI_COMM_WORLD_RANK"});
  expect_bad({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "two"}}, {"SLURM_NTASKS", "'two'"});
  expect_bad({{"MASTER_PORT", "70000"}}, {"MASTER_PORT", "70000"});
  expect_bad({{"MASTER_PORT", "0"}}, {"MASTER_PORT"});
  expect_bad({{"PIPESHARD_STORE_PORT", "65536"}}, {"PIPESHARD_STORE_PORT"});
  expect_bad({{"PIPESHARD_JOB_TOKEN", std::string(300, 'a')}}, {"PIPESHARD_JOB_TOKEN", "300 bytes"});
}

TEST(WorkerEnv, ManyNodesNeedMasterAddr) {
  expect_bad({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "4"}, {"SLURM_STEP_TASKS_PER_NODE", "2(x2)"}},
             {"MASTER_ADDR is not set", "4 ranks"});
  // One node: the loopback default is right.
  EXPECT_EQ(worker_env_resolve({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"SLURM_STEP_TASKS_PER_NODE", "2"}})
                .master_addr,
            "127.0.0.1");
}

}  // namespace
}  // namespace ps
