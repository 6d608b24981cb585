#include "runtime/launch/worker_env.h"

#include <charconv>

#include "runtime/comm/job_token.h"
#include "runtime/comm/store_protocol.h"
#include "runtime/core/error.h"

extern char** environ;

namespace ps {

EnvMap env_current() {
  EnvMap m;
  for (char** e = environ; e && *e; ++e) {
    const std::string kv = *e;
    const auto eq = kv.find('=');
    if (eq != std::string::npos) m[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return m;
}

namespace {

const std::string* find(const EnvMap& env, const char* key) {
  auto it = env.find(key);
  return it == env.end() || it->second.empty() ? nullptr : &it->second;
}

int parse_int(const std::string& v, const char* key, int min_value, int max_value) {
  int x = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || p != v.data() + v.size() || x < min_value || x > max_value)
    fail_input("environment variable ", key, "='", v, "': expected an integer in ", min_value, "..", max_value);
  return x;
}

int int_var(const EnvMap& env, const char* key, int dflt, int min_value, int max_value = 1 << 30) {
  const std::string* v = find(env, key);
  return v ? parse_int(*v, key, min_value, max_value) : dflt;
}

// SLURM's per-node task counts, compressed: "2(x3),1" = 2,2,2,1. The entry of node `node`.
int slurm_tasks_on_node(const std::string& list, int node, const char* key) {
  int index = 0;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    const std::string item = list.substr(start, comma - start);
    const size_t paren = item.find("(x");
    const int count = parse_int(item.substr(0, paren), key, 1, 1 << 30);
    int repeat = 1;
    if (paren != std::string::npos) {
      if (item.back() != ')') fail_input("environment variable ", key, "='", list, "': malformed entry '", item, "'");
      repeat = parse_int(item.substr(paren + 2, item.size() - paren - 3), key, 1, 1 << 30);
    }
    if (node < index + repeat) return count;
    index += repeat;
    start = comma + 1;
  }
  fail_input("environment variable ", key, "='", list, "' lists ", index, " nodes; this is node ", node);
}

// The first launcher whose rank variable is set started us. Open MPI comes before SLURM: under
// `mpirun` inside an allocation, SLURM_PROCID describes the MPI daemon, not this process.
struct LauncherVars {
  const char* name;
  const char* rank;
  const char* world;
  const char* local_rank;
  const char* local_world;
  bool local_world_per_node;  // local_world is SLURM's compressed per-node list
  const char* node;           // nullptr: the launcher does not say which node this is
};

const LauncherVars kLaunchers[] = {
    // Ours and torchrun's use the same names: the pipeshard launcher sets them as torchrun does.
    {"torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", false, "GROUP_RANK"},
    {"openmpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
     "OMPI_COMM_WORLD_LOCAL_SIZE", false, nullptr},
    // srun always sets SLURM_STEP_TASKS_PER_NODE; SLURM_NTASKS_PER_NODE only when asked for.
    {"slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_STEP_TASKS_PER_NODE", true, "SLURM_NODEID"},
};

void resolve_ranks(const EnvMap& env, const LauncherVars& l, WorkerEnv& w) {
  w.launcher = l.name;
  if (w.launcher == "torchrun" && find(env, "PIPESHARD_LAUNCHER")) w.launcher = *find(env, "PIPESHARD_LAUNCHER");
  w.world = int_var(env, l.world, -1, 1);
  if (w.world < 0) fail_input("environment variable ", l.rank, " is set but ", l.world, " is not");
  w.rank = int_var(env, l.rank, 0, 0);
  if (w.rank >= w.world)
    fail_input("environment variable ", l.rank, "=", w.rank, " is not below ", l.world, "=", w.world);
  w.node_rank = l.node ? int_var(env, l.node, 0, 0) : -1;
  const char* local_world_var = l.local_world;
  if (const std::string* lw = find(env, l.local_world)) {
    w.local_world = l.local_world_per_node ? slurm_tasks_on_node(*lw, w.node_rank, l.local_world)
                                           : parse_int(*lw, l.local_world, 1, 1 << 30);
  } else if (l.local_world_per_node && find(env, "SLURM_NTASKS_PER_NODE")) {
    local_world_var = "SLURM_NTASKS_PER_NODE";
    w.local_world = int_var(env, local_world_var, 1, 1);
  } else {
    w.local_world = w.world;
  }
  if (w.local_world > w.world)
    fail_input("environment variable ", local_world_var, "=", w.local_world, " is above ", l.world, "=", w.world);
  w.local_rank = int_var(env, l.local_rank, w.rank, 0);
  if (w.local_rank >= w.local_world)
    fail_input("environment variable ", l.local_rank, "=", w.local_rank, " is not below ", local_world_var, "=",
               w.local_world);
}

}  // namespace

WorkerEnv worker_env_resolve(const EnvMap& env) {
  WorkerEnv w;
  w.launcher = "single";
  for (const auto& l : kLaunchers) {
    if (!find(env, l.rank)) continue;
    resolve_ranks(env, l, w);
    break;
  }
  if (const std::string* a = find(env, "MASTER_ADDR")) {
    w.master_addr = *a;
  } else if (w.local_world < w.world) {
    // SLURM and Open MPI do not set it; without it every node would look for rank 0 at home.
    fail_input("environment variable MASTER_ADDR is not set, but this job's ", w.world,
               " ranks run on several nodes (", w.local_world, " here); set it to rank 0's host");
  }
  w.master_port = int_var(env, "MASTER_PORT", 29500, 1, 65535);
  const std::string* agent = find(env, "TORCHELASTIC_USE_AGENT_STORE");
  const bool agent_store = agent && (*agent == "True" || *agent == "true" || *agent == "1");
  if (find(env, "PIPESHARD_STORE_PORT")) {
    w.store_port = int_var(env, "PIPESHARD_STORE_PORT", 0, 1, 65535);
  } else if (agent_store) {
    // torchrun's agent holds MASTER_PORT itself: ours is the next one.
    if (w.master_port == 65535)
      fail_input("environment variable MASTER_PORT=65535: with TORCHELASTIC_USE_AGENT_STORE our store uses "
                 "MASTER_PORT + 1; set PIPESHARD_STORE_PORT");
    w.store_port = w.master_port + 1;
  } else {
    w.store_port = w.master_port;
  }
  if (const std::string* t = find(env, kJobTokenEnv)) {
    if (t->size() > kStoreMaxToken)
      fail_input("environment variable ", kJobTokenEnv, " is ", t->size(), " bytes long (at most ", kStoreMaxToken, ")");
    w.job_token = *t;
  }
  return w;
}

}  // namespace ps
