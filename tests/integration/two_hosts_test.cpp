// Two hosts: two network namespaces joined by a veth pair, each with its own addresses and no
// loopback path to the other, run `tools/launch.sh` once each (node 0 holds rank 0 and the store,
// node 1 the plan's second stage). The pipeline across them gives what one process gives.
// Needs root (CAP_SYS_ADMIN) and iproute2's `ip`: skipped without them outside CI, failed in CI.
#include <gtest/gtest.h>

#include <signal.h>

#include "integration/integration_util.h"

namespace ps::integ {
namespace {

test::CommandResult ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {find_program("ip")};
  argv.insert(argv.end(), args.begin(), args.end());
  return test::run_command(argv, 30);
}

// Namespaces "psA-<pid>"/"psB-<pid>" whose test process is gone: left by a test that was killed
// before its destructors ran.
void remove_stale_namespaces() {
  std::stringstream list(ip({"netns", "list"}).out);
  for (std::string line; std::getline(list, line);) {
    const std::string name = line.substr(0, line.find(' '));
    if (name.rfind("psA-", 0) != 0 && name.rfind("psB-", 0) != 0) continue;
    const std::string pid = name.substr(4);
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    if (::kill(static_cast<pid_t>(std::stol(pid)), 0) == 0 || errno != ESRCH) continue;
    ip({"netns", "del", name});
  }
}

// Two namespaces joined by a veth pair, 10.200.<subnet>.1 in A and .2 in B; removed when it dies,
// whatever the test's outcome.
class HostPair {
 public:
  explicit HostPair(int subnet)
      : a_("psA-" + std::to_string(getpid())),
        b_("psB-" + std::to_string(getpid())),
        addr_a_("10.200." + std::to_string(subnet) + ".1"),
        addr_b_("10.200." + std::to_string(subnet) + ".2") {
    const std::string veth_a = "psvA" + std::to_string(getpid()), veth_b = "psvB" + std::to_string(getpid());
    const std::vector<std::vector<std::string>> steps = {
        {"netns", "add", a_},
        {"netns", "add", b_},
        {"link", "add", veth_a, "netns", a_, "type", "veth", "peer", "name", veth_b, "netns", b_},
        {"-n", a_, "addr", "add", addr_a_ + "/24", "dev", veth_a},
        {"-n", b_, "addr", "add", addr_b_ + "/24", "dev", veth_b},
        {"-n", a_, "link", "set", "lo", "up"},
        {"-n", b_, "link", "set", "lo", "up"},
        {"-n", a_, "link", "set", veth_a, "up"},
        {"-n", b_, "link", "set", veth_b, "up"},
    };
    for (const auto& step : steps) {
      const auto r = ip(step);
      if (r.exit_code != 0) {
        error_ = "ip";
        for (const auto& s : step) error_ += " " + s;
        error_ += ": " + r.err;
        return;
      }
    }
  }
  ~HostPair() {
    ip({"netns", "del", a_});
    ip({"netns", "del", b_});
  }
  HostPair(const HostPair&) = delete;
  HostPair& operator=(const HostPair&) = delete;

  const std::string& error() const { return error_; }
  const std::string& a() const { return a_; }
  const std::string& b() const { return b_; }
  const std::string& addr_a() const { return addr_a_; }

 private:
  std::string a_, b_, addr_a_, addr_b_, error_;
};

// `ip netns add` makes a file of that name under /run/netns; `ip netns del` removes it.
bool namespace_exists(const std::string& name) { return test::file_exists("/run/netns/" + name); }

TEST(TwoHosts, LaunchShOnTwoNetworkNamespaces) {
  if (find_program("ip").empty()) {
    if (in_ci()) FAIL() << "`ip` (iproute2) not found: CI must install iproute2";
    GTEST_SKIP() << "`ip` (iproute2) not found";
  }
  remove_stale_namespaces();
  std::string ns_a;
  {
    HostPair hosts(static_cast<int>(getpid() % 250) + 1);
    ns_a = hosts.a();
    if (!hosts.error().empty()) {
      if (in_ci()) FAIL() << "cannot create network namespaces under CI: " << hosts.error();
      GTEST_SKIP() << "cannot create network namespaces (needs root / CAP_SYS_ADMIN; required under CI=true): "
                   << hosts.error();
    }
    test::TempDir dir;
    make_model(dir.path(), "llama");
    const std::string input = dir.file("requests.jsonl");
    write_jsonl(input, mixed_requests(10, 10, 8, 21));
    for (const std::string mode : {"generate", "forward"}) {
      PlanSpec p;
      p.model = "llama";
      p.mode = mode;
      p.stages = 2;
      p.batch = 4;
      p.micro_batches = 2;
      p.nodes = {0, 1};
      const std::string plan = write_plan(dir.file(mode + "-2node.plan.json"), p);
      p.stages = 1;
      p.nodes = {};
      const std::string one_plan = write_plan(dir.file(mode + "-1stage.plan.json"), p);

      const std::string one_out = dir.file(mode + "-one.jsonl");
      const auto one = pipeshard({"run", "--plan", one_plan, "--input", input, "--output", one_out}, dir.file(mode + "-one"));
      ASSERT_EQ(one.exit_code, 0) << one.err;

      const std::string out = dir.file(mode + "-two-hosts.jsonl");
      const Env env = with(clean_env(), {{"PIPESHARD_JOB_TOKEN", "two-hosts-" + mode},
                                         {"PIPESHARD_BIN", pipeshard_bin()}});
      std::vector<std::unique_ptr<Proc>> nodes;
      for (int node = 0; node < 2; ++node) {
        std::vector<std::string> argv = {find_program("ip"), "netns", "exec", node == 0 ? hosts.a() : hosts.b(),
                                         source_dir() + "/tools/launch.sh", "--nnodes", "2", "--node-rank",
                                         std::to_string(node), "--nproc-per-node", "1", "--master-addr",
                                         hosts.addr_a(), "--master-port", "29500", "--", "pipeshard", "worker",
                                         "--plan", plan, "--input", input, "--output", out,
                                         "--timeout-seconds", "20"};
        nodes.push_back(std::make_unique<Proc>(argv, env, dir.file(mode + "-node" + std::to_string(node))));
      }
      for (int node = 0; node < 2; ++node)
        EXPECT_EQ(nodes[static_cast<size_t>(node)]->wait(60s), 0)
            << mode << " node " << node << ":\n" << nodes[static_cast<size_t>(node)]->err();
      ASSERT_TRUE(test::file_exists(out)) << nodes[0]->err();
      EXPECT_EQ(test::read_text(out), test::read_text(one_out)) << mode;
    }
  }
  EXPECT_FALSE(namespace_exists(ns_a)) << ns_a << " outlived the test";
}

}  // namespace
}  // namespace ps::integ
