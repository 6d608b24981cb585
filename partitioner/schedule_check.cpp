#include "partitioner/schedule_check.h"

#include <algorithm>
#include <cstdio>
#include <deque>
#include <utility>

#include "runtime/core/error.h"

namespace ps {
namespace {

struct Message {
  Instruction send;  // as the sender posted it
  int sender = 0;
  int step = 0;
};

struct Run {
  std::vector<std::vector<std::string>> rows;  // [step][rank]
  ScheduleCheck result;
};

void fail_at(Run& run, int step, int rank, std::string error) {
  run.result.ok = false;
  run.result.error = std::move(error);
  run.result.step = step;
  run.result.rank = rank;
}

std::string name(const std::vector<std::vector<Instruction>>& ranks, int r, size_t pc) {
  return instruction_str(r, ranks[static_cast<size_t>(r)][pc]);
}

// Data flow within a rank, per micro-batch: Load or RECV_F provides Forward's input; Forward's
// output feeds SEND_F, Output or Sample; Sample's tokens feed SEND_T. Returns what is missing, or
// an empty string (and records the step) when the instruction may run.
struct Flow {
  std::vector<int> input, output, tokens;  // per micro-batch: available and not yet consumed

  std::string run(const Instruction& ins) {
    const size_t mb = static_cast<size_t>(std::max(ins.mb, 0));
    for (auto* pool : {&input, &output, &tokens})
      if (pool->size() <= mb) pool->resize(mb + 1, 0);
    auto take = [&](std::vector<int>& pool, const char* what) -> std::string {
      if (pool[mb] == 0) return what;
      --pool[mb];
      return "";
    };
    switch (ins.op) {
      case InstrKind::Load:
      case InstrKind::RecvAct: ++input[mb]; return "";
      case InstrKind::Forward: {
        std::string miss = take(input, "its input (a Load or RECV_F of that micro-batch)");
        if (miss.empty()) ++output[mb];
        return miss;
      }
      case InstrKind::SendAct:
      case InstrKind::Output: return take(output, "its Forward");
      case InstrKind::Sample: {
        std::string miss = take(output, "its Forward");
        if (miss.empty()) ++tokens[mb];
        return miss;
      }
      case InstrKind::SendTokens: return take(tokens, "its Sample");
      case InstrKind::RecvTokens: return "";
    }
    return "";
  }
};

// Executes the lists in lock-step until they finish or the first problem. The grid's rows are
// kept only when `record` (a passing check of a long generation need not build them).
Run run_lockstep(const std::vector<std::vector<Instruction>>& ranks, bool record) {
  const int n = static_cast<int>(ranks.size());
  Run run;
  std::vector<size_t> pc(ranks.size(), 0);
  std::vector<Flow> flow(ranks.size());
  // Messages in flight per (sender, receiver); a rank hears from few peers: a short list each.
  struct Channel {
    int sender = 0;
    std::deque<Message> q;
  };
  std::vector<std::vector<Channel>> inbox(ranks.size());
  auto channel = [&](int sender, int receiver) -> std::deque<Message>& {
    for (Channel& c : inbox[static_cast<size_t>(receiver)])
      if (c.sender == sender) return c.q;
    inbox[static_cast<size_t>(receiver)].push_back(Channel{sender, {}});
    return inbox[static_cast<size_t>(receiver)].back().q;
  };
  size_t total = 0;
  for (const auto& l : ranks) total += l.size();
  std::vector<std::pair<int, Message>> posted;  // (receiver, message): visible from the next step on

  for (int step = 0;; ++step) {
    std::vector<std::string> row(record ? ranks.size() : 0);
    posted.clear();
    bool progressed = false, done = true;
    for (int r = 0; r < n && run.result.ok; ++r) {
      const auto& list = ranks[static_cast<size_t>(r)];
      size_t& i = pc[static_cast<size_t>(r)];
      if (i >= list.size()) continue;
      done = false;
      const Instruction& ins = list[i];
      const auto here = [&] { return name(ranks, r, i); };
      auto fail = [&](const std::string& why) {
        if (record) row[static_cast<size_t>(r)] = here();
        fail_at(run, step, r, why);
      };
      if ((op_is_send(ins.op) || op_is_recv(ins.op)) && (ins.peer < 0 || ins.peer >= n || ins.peer == r)) {
        fail(str(here(), " (rank ", r, ") names peer ", ins.peer, ", not another rank of 0..", n - 1));
        break;
      }
      if (op_is_recv(ins.op) && channel(ins.peer, r).empty()) continue;  // waits
      if (const std::string miss = flow[static_cast<size_t>(r)].run(ins); !miss.empty()) {
        fail(str("out of order: ", here(), " (rank ", r, ") runs before ", miss));
        break;
      }
      if (op_is_recv(ins.op)) {
        auto& q = channel(ins.peer, r);
        const Message& m = q.front();
        if (m.send.op != op_matching_send(ins.op) || m.send.mb != ins.mb) {
          fail(str("misordered: ", here(), " (rank ", r, ") expects ", op_code(op_matching_send(ins.op)), " of micro-batch ",
                   ins.mb, " from rank ", ins.peer, ", but the next message from rank ", ins.peer, " is ",
                   instruction_str(m.sender, m.send), " (posted at step ", m.step, ")"));
          break;
        }
        q.pop_front();
      } else if (op_is_send(ins.op)) {
        posted.push_back({ins.peer, Message{ins, r, step}});
      }
      if (record) row[static_cast<size_t>(r)] = here();
      ++i;
      progressed = true;
    }
    if (record && (!run.result.ok || progressed)) run.rows.push_back(row);
    if (!run.result.ok) return run;
    for (auto& [to, m] : posted) channel(m.sender, to).push_back(m);
    if (done) break;
    if (!progressed) {
      // Deadlock: name the first waiting receive and what its peer is doing.
      for (int r = 0; r < n; ++r) {
        const size_t i = pc[static_cast<size_t>(r)];
        if (i >= ranks[static_cast<size_t>(r)].size()) continue;
        const Instruction& ins = ranks[static_cast<size_t>(r)][i];
        const size_t pi = pc[static_cast<size_t>(ins.peer)];
        const std::string peer_state = pi >= ranks[static_cast<size_t>(ins.peer)].size()
                                           ? "has finished its list"
                                           : "waits in " + name(ranks, ins.peer, pi);
        if (record) {
          std::vector<std::string> blocked(ranks.size());
          blocked[static_cast<size_t>(r)] = name(ranks, r, i);
          run.rows.push_back(blocked);
        }
        fail_at(run, step, r,
                str("deadlock: ", name(ranks, r, i), " (rank ", r, ") waits for ", op_code(op_matching_send(ins.op)),
                    " of micro-batch ", ins.mb, " from rank ", ins.peer, ", which ", peer_state,
                    " without having sent it"));
        return run;
      }
    }
    PS_CHECK(static_cast<size_t>(step) <= total, "lock-step ran past ", total, " steps");
  }
  // A message nobody received: report the earliest-posted one.
  const Message* left = nullptr;
  int left_to = 0;
  size_t left_count = 0;
  for (int to = 0; to < n; ++to)
    for (const Channel& c : inbox[static_cast<size_t>(to)])
      if (!c.q.empty() && (!left || c.q.front().step < left->step ||
                           (c.q.front().step == left->step && c.q.front().sender < left->sender))) {
        left = &c.q.front();
        left_to = to;
        left_count = c.q.size();
      }
  if (left)
    fail_at(run, left->step, left->sender,
            str("unmatched: ", instruction_str(left->sender, left->send), " (rank ", left->sender, ", step ", left->step,
                ") is never received by rank ", left_to, " (", left_count, " message(s) left on that link)"));
  return run;
}

// Renders rows [first, last) with the faulty cell (if any) marked.
std::string render(const Run& run, size_t ranks, size_t first, size_t last) {
  size_t width = 8;
  for (const auto& row : run.rows)
    for (const auto& c : row) width = std::max(width, c.size() + 2);
  auto cell = [&](std::string s) {
    s.resize(width, ' ');
    return s + " ";
  };
  std::string out = "step  ";
  for (size_t r = 0; r < ranks; ++r) out += cell("rank " + std::to_string(r));
  while (!out.empty() && out.back() == ' ') out.pop_back();
  out += "\n";
  if (first > 0) out += "  ...\n";
  for (size_t s = first; s < last; ++s) {
    char num[16];
    std::snprintf(num, sizeof num, "%4zu  ", s);
    out += num;
    for (size_t r = 0; r < ranks; ++r) {
      std::string c = run.rows[s][r];
      if (!run.result.ok && static_cast<int>(s) == run.result.step && static_cast<int>(r) == run.result.rank) c = "*" + c + "*";
      out += cell(c);
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out += "\n";
  }
  if (last < run.rows.size()) out += "  ...\n";
  return out;
}

}  // namespace

ScheduleCheck schedule_check(const std::vector<std::vector<Instruction>>& ranks) {
  Run run = run_lockstep(ranks, false);
  if (!run.result.ok) {
    run = run_lockstep(ranks, true);  // again, keeping the grid to show
    // A window around the faulty step keeps a long generation's grid readable.
    const size_t step = static_cast<size_t>(run.result.step);
    const size_t first = step > 16 ? step - 16 : 0;
    const size_t last = std::min(run.rows.size(), step + 3);
    run.result.grid = render(run, ranks.size(), first, last);
  }
  return run.result;
}

std::string schedule_grid(const std::vector<std::vector<Instruction>>& ranks) {
  const Run run = run_lockstep(ranks, true);
  PS_CHECK(run.result.ok, "schedule_grid of a schedule that fails its check: ", run.result.error);
  return render(run, ranks.size(), 0, run.rows.size());
}

}  // namespace ps
