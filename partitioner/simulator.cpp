#include "partitioner/simulator.h"

#include <algorithm>
#include <deque>
#include <vector>

#include "partitioner/schedule_check.h"
#include "runtime/core/error.h"

namespace ps {

SimResult simulate(const TimedProgram& program) {
  const size_t n = program.ops.size();
  PS_CHECK(program.seconds.size() == n, "durations for ", program.seconds.size(), " of ", n, " stages");
  for (size_t s = 0; s < n; ++s)
    PS_CHECK(program.seconds[s].size() == program.ops[s].size(), "stage ", s, ": ", program.seconds[s].size(),
             " durations for ", program.ops[s].size(), " instructions");
  // Matching is checked once here so that the event loop below can trust it.
  const ScheduleCheck check = schedule_check(program.ops);
  if (!check.ok) fail_runtime("simulate: the schedule is inconsistent: ", check.error, "\n", check.grid);

  SimResult res;
  res.busy.assign(n, 0.0);
  res.finish.assign(n, 0.0);
  std::vector<size_t> pc(n, 0);
  std::vector<double> clock(n, 0.0);
  // Links by (sender, receiver): arrival times of the messages in flight, and when the link can
  // start the next one. A stage talks to few peers: a short list per sender.
  struct Link {
    size_t to = 0;
    std::deque<double> arrivals;
    double free = 0.0;
  };
  std::vector<std::vector<Link>> links(n);
  auto link = [&](size_t from, size_t to) -> Link& {
    for (Link& l : links[from])
      if (l.to == to) return l;
    links[from].push_back(Link{to, {}, 0.0});
    return links[from].back();
  };
  auto record = [&](size_t s) { return program.record_until.empty() || pc[s] < program.record_until[s]; };

  // Each pass advances every stage as far as it can; a stage waits only in a receive whose
  // message is not posted yet. Timestamps do not depend on the visiting order, since a link has
  // one sender and carries its messages in that sender's list order.
  for (bool progressed = true; progressed;) {
    progressed = false;
    for (size_t s = 0; s < n; ++s) {
      const auto& ops = program.ops[s];
      while (pc[s] < ops.size()) {
        const Instruction& ins = ops[pc[s]];
        const double dur = program.seconds[s][pc[s]];
        const int index = static_cast<int>(pc[s]);
        if (op_is_recv(ins.op)) {
          auto& q = link(static_cast<size_t>(ins.peer), s).arrivals;
          if (q.empty()) break;
          clock[s] = std::max(clock[s], q.front());
          q.pop_front();
        } else if (op_is_send(ins.op)) {
          Link& l = link(s, static_cast<size_t>(ins.peer));
          const double start = std::max(clock[s], l.free);
          l.free = start + dur;
          l.arrivals.push_back(start + dur);
          if (record(s)) res.transfers.push_back({static_cast<int>(s), index, ins, start, start + dur});
        } else {
          if (record(s)) res.compute.push_back({static_cast<int>(s), index, ins, clock[s], clock[s] + dur});
          clock[s] += dur;
          res.busy[s] += dur;
        }
        ++pc[s];
        progressed = true;
      }
    }
  }
  for (size_t s = 0; s < n; ++s) {
    PS_CHECK(pc[s] == program.ops[s].size(), "stage ", s, " stopped at instruction ", pc[s]);
    res.finish[s] = clock[s];
  }
  // A message still in flight after its receiver finished cannot be (the check pairs them all),
  // so the makespan is the last stage clock.
  res.makespan = n == 0 ? 0.0 : *std::max_element(res.finish.begin(), res.finish.end());
  double busy = 0.0;
  for (double b : res.busy) busy += b;
  res.bubble = res.makespan > 0.0 ? 1.0 - busy / (static_cast<double>(n) * res.makespan) : 0.0;
  std::stable_sort(res.compute.begin(), res.compute.end(),
                   [](const SimEvent& a, const SimEvent& b) { return a.stage < b.stage; });
  return res;
}

}  // namespace ps
