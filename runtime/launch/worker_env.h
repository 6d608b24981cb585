// Who am I in the job: rank, world size, local rank, and where rank 0's store is. Read from the
// environment that a launcher sets: ours and torchrun's (RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR, MASTER_PORT), SLURM's srun (SLURM_PROCID,
// SLURM_NTASKS, SLURM_LOCALID, SLURM_NODEID) or Open MPI's mpirun (OMPI_COMM_WORLD_RANK,
// OMPI_COMM_WORLD_SIZE, OMPI_COMM_WORLD_LOCAL_RANK, OMPI_COMM_WORLD_LOCAL_SIZE). A pure function
// of the variables, so every launcher is tested without it.
#pragma once

#include <map>
#include <string>

namespace ps {

struct WorkerEnv {
  int rank = 0;
  int world = 1;
  int local_rank = 0;
  int local_world = 1;
  int node_rank = 0;              // GROUP_RANK / SLURM_NODEID; -1 when the launcher does not say
                                  // (Open MPI: OMPI_COMM_WORLD_NODE_RANK is a rank, not a node)
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  // The port our store listens on and connects to. torchrun's agent already holds MASTER_PORT
  // when TORCHELASTIC_USE_AGENT_STORE=True, so we use MASTER_PORT + 1 then (or
  // PIPESHARD_STORE_PORT when set) and never bind the agent's port.
  int store_port = 29500;
  std::string launcher;           // "pipeshard", "torchrun", "slurm", "openmpi", "single"
  std::string job_token;          // PIPESHARD_JOB_TOKEN; empty = none given
};

using EnvMap = std::map<std::string, std::string>;

EnvMap env_current();
// InvalidInput naming the variable for a malformed or inconsistent value (RANK >= WORLD_SIZE,
// LOCAL_RANK >= LOCAL_WORLD_SIZE, a port outside 1..65535, ...), and when a job whose ranks span
// several nodes does not set MASTER_ADDR (the 127.0.0.1 default would split it silently).
WorkerEnv worker_env_resolve(const EnvMap& env);

}  // namespace ps
