#include "partitioner/partition.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <map>

#include "partitioner/saturate.h"
#include "runtime/core/error.h"

namespace ps {
namespace {

// Bytes of layers [a, b): their held bytes plus the largest transient `top`. A saturated prefix
// (kBytesMax: the layers before b hold more than int64 counts) no longer tells how much of it lies
// in [a, b), so such a range does not fit -- conservative, and only for models past 8 EiB. Memory
// stays monotone (growing with b, shrinking with a), which the searches below rely on.
int64_t range_memory(const std::vector<int64_t>& held, int a, int b, int64_t top) {
  const int64_t end = held[static_cast<size_t>(b)];
  return end == kBytesMax ? kBytesMax : add_sat(end - held[static_cast<size_t>(a)], top);
}

}  // namespace

Boundaries partition_uniform(int layers, int stages) {
  PS_CHECK(stages >= 1 && layers >= stages, layers, " layers, ", stages, " stages");
  Boundaries parts(static_cast<size_t>(stages) + 1, 0);
  const int chunk = layers / stages, extra = layers % stages;
  for (int s = 0; s < stages; ++s) parts[static_cast<size_t>(s) + 1] = parts[static_cast<size_t>(s)] + chunk + (s < extra ? 1 : 0);
  return parts;
}

double stage_cost(const PartitionProblem& p, int s, int a, int b) {
  const auto& t = p.time[static_cast<size_t>(s)];
  return (t[static_cast<size_t>(b)] + p.send[static_cast<size_t>(s)][static_cast<size_t>(b)]) - t[static_cast<size_t>(a)];
}

int64_t stage_memory(const PartitionProblem& p, int a, int b) {
  return range_memory(p.held, a, b, *std::max_element(p.peak.begin() + a, p.peak.begin() + b));
}

double partition_bottleneck(const PartitionProblem& p, const Boundaries& parts) {
  double worst = 0.0;
  for (int s = 0; s < p.stages(); ++s)
    worst = std::max(worst, stage_cost(p, s, parts[static_cast<size_t>(s)], parts[static_cast<size_t>(s) + 1]));
  return worst;
}

bool partition_fits(const PartitionProblem& p, const Boundaries& parts) {
  for (int s = 0; s < p.stages(); ++s)
    if (stage_memory(p, parts[static_cast<size_t>(s)], parts[static_cast<size_t>(s) + 1]) > p.capacity[static_cast<size_t>(s)])
      return false;
  return true;
}

namespace {

// Range maximum in O(1) after O(n log n) preparation.
struct SparseMax {
  std::vector<std::vector<int64_t>> t;
  explicit SparseMax(const std::vector<int64_t>& v) {
    t.push_back(v);
    for (size_t w = 1; 2 * w <= v.size(); w *= 2) {
      const auto& prev = t.back();
      std::vector<int64_t> next(v.size() - 2 * w + 1);
      for (size_t i = 0; i < next.size(); ++i) next[i] = std::max(prev[i], prev[i + w]);
      t.push_back(std::move(next));
    }
  }
  int64_t max(int a, int b) const {  // over [a, b), a < b
    size_t k = 0;
    while ((size_t{2} << k) <= static_cast<size_t>(b - a)) ++k;
    return std::max(t[k][static_cast<size_t>(a)], t[k][static_cast<size_t>(b) - (size_t{1} << k)]);
  }
};

// For one capacity: lo[b] = the smallest start a with mem(a, b) <= cap (b when none), and
// hi[a] = the largest end b with mem(a, b) <= cap (a when none). mem grows with b and shrinks
// with a, so both move monotonically: two pointers.
struct MemoryWindow {
  std::vector<int> lo, hi;
};

MemoryWindow memory_window(const PartitionProblem& p, const SparseMax& peak, int64_t cap) {
  const int n = p.layers;
  auto mem = [&](int a, int b) { return range_memory(p.held, a, b, peak.max(a, b)); };
  MemoryWindow w;
  w.lo.assign(static_cast<size_t>(n) + 1, 0);
  w.hi.assign(static_cast<size_t>(n) + 1, 0);
  int a = 0;
  for (int b = 1; b <= n; ++b) {
    while (a < b && mem(a, b) > cap) ++a;
    w.lo[static_cast<size_t>(b)] = a;
  }
  int b = 0;
  for (int a2 = 0; a2 <= n; ++a2) {
    b = std::max(b, a2);
    while (b < n && mem(a2, b + 1) <= cap) ++b;
    w.hi[static_cast<size_t>(a2)] = b;
  }
  return w;
}

struct Solver {
  const PartitionProblem& p;
  std::vector<const MemoryWindow*> win;  // per stage
  std::map<int64_t, MemoryWindow> by_capacity;
  SparseMax peak;
  // parent[s][b]: the start of stage s when it ends at b (-1: b is not a reachable end).
  std::vector<std::vector<int>> parent;

  explicit Solver(const PartitionProblem& pp) : p(pp), peak(pp.peak) {
    for (int64_t cap : p.capacity)
      if (!by_capacity.count(cap)) by_capacity.emplace(cap, memory_window(p, peak, cap));
    for (int64_t cap : p.capacity) win.push_back(&by_capacity.at(cap));
    parent.assign(static_cast<size_t>(p.stages()), std::vector<int>(static_cast<size_t>(p.layers) + 1, -1));
  }

  // Can stages 0..P-1 cover every layer with each stage_cost <= bound? Fills `parent`.
  bool feasible(double bound) {
    const int n = p.layers, P = p.stages();
    // last[x]: the latest reachable start <= x for the current stage (-1: none).
    std::vector<int> last(static_cast<size_t>(n) + 1, 0), next(static_cast<size_t>(n) + 1);
    for (int s = 0; s < P; ++s) {
      auto& par = parent[static_cast<size_t>(s)];
      std::fill(par.begin(), par.end(), -1);
      const auto& lo = win[static_cast<size_t>(s)]->lo;
      const int b_max = n - (P - 1 - s);  // leave a layer for each later stage
      for (int b = s + 1; b <= b_max; ++b) {
        const int a = last[static_cast<size_t>(b) - 1];  // cost and memory are smallest for the latest start
        if (a >= 0 && a >= lo[static_cast<size_t>(b)] && stage_cost(p, s, a, b) <= bound) par[static_cast<size_t>(b)] = a;
      }
      int run = -1;
      for (int x = 0; x <= n; ++x) {
        if (par[static_cast<size_t>(x)] >= 0) run = x;
        next[static_cast<size_t>(x)] = run;
      }
      std::swap(last, next);
    }
    return parent[static_cast<size_t>(P) - 1][static_cast<size_t>(n)] >= 0;
  }

  Boundaries backtrack() const {
    const int P = p.stages();
    Boundaries parts(static_cast<size_t>(P) + 1, 0);
    parts[static_cast<size_t>(P)] = p.layers;
    for (int s = P - 1; s >= 0; --s)
      parts[static_cast<size_t>(s)] = parent[static_cast<size_t>(s)][static_cast<size_t>(parts[static_cast<size_t>(s) + 1])];
    return parts;
  }

  // Among the splits with every cost <= bound, a balanced one (see partition.h).
  Boundaries balanced(double bound) const {
    const int n = p.layers, P = p.stages();
    // can_finish[s][a]: stages s..P-1 can cover [a, n) from start a within bound. For a fixed a
    // the candidate ends form the window (a, hi[a]], and cost(s, a, b) <= bound iff
    // key[b] - time[s][a] <= bound with key = time + send: a sliding-window minimum of key.
    std::vector<std::vector<char>> can_finish(static_cast<size_t>(P) + 1, std::vector<char>(static_cast<size_t>(n) + 1, 0));
    can_finish[static_cast<size_t>(P)][static_cast<size_t>(n)] = 1;
    for (int s = P - 1; s >= 0; --s) {
      const auto& t = p.time[static_cast<size_t>(s)];
      const auto& snd = p.send[static_cast<size_t>(s)];
      const auto& hi = win[static_cast<size_t>(s)]->hi;
      const auto& later = can_finish[static_cast<size_t>(s) + 1];
      auto key = [&](int b) { return t[static_cast<size_t>(b)] + snd[static_cast<size_t>(b)]; };
      std::deque<int> window;  // ends in (a, hi[a]] that later stages can finish from, keys increasing
      int pushed = 0;
      for (int a = 0; a < n; ++a) {
        while (pushed < hi[static_cast<size_t>(a)]) {
          ++pushed;
          if (!later[static_cast<size_t>(pushed)]) continue;
          while (!window.empty() && key(window.back()) >= key(pushed)) window.pop_back();
          window.push_back(pushed);
        }
        while (!window.empty() && window.front() <= a) window.pop_front();
        if (!window.empty() && key(window.front()) - t[static_cast<size_t>(a)] <= bound)
          can_finish[static_cast<size_t>(s)][static_cast<size_t>(a)] = 1;
      }
    }
    PS_CHECK(can_finish[0][0], "the optimal bound admits no split");
    Boundaries parts{0};
    for (int s = 0, a = 0; s < P; ++s) {
      const auto& t = p.time[static_cast<size_t>(s)];
      const double target = (t[static_cast<size_t>(n)] - t[static_cast<size_t>(a)]) / (P - s);
      int best = -1;
      double best_gap = 0.0;
      for (int b = a + 1; b <= win[static_cast<size_t>(s)]->hi[static_cast<size_t>(a)]; ++b) {
        if (!can_finish[static_cast<size_t>(s) + 1][static_cast<size_t>(b)]) continue;
        const double cost = stage_cost(p, s, a, b);
        if (cost > bound) continue;
        const double gap = std::fabs(cost - target);
        if (best < 0 || gap <= best_gap) best = b, best_gap = gap;
      }
      PS_CHECK(best > a, "stage ", s, " found no end");
      parts.push_back(best);
      a = best;
    }
    return parts;
  }
};

uint64_t bits_of(double v) {
  uint64_t u;
  std::memcpy(&u, &v, sizeof u);
  return u;
}

double double_of(uint64_t u) {
  double v;
  std::memcpy(&v, &u, sizeof v);
  return v;
}

void check_problem(const PartitionProblem& p) {
  const size_t n1 = static_cast<size_t>(p.layers) + 1;
  PS_CHECK(p.layers >= 1 && p.stages() >= 1, p.layers, " layers, ", p.stages(), " stages");
  PS_CHECK(p.send.size() == p.time.size() && p.capacity.size() == p.time.size(), "per-stage arrays disagree");
  PS_CHECK(p.held.size() == n1 && p.peak.size() == n1 - 1, "per-layer arrays disagree");
  for (size_t s = 0; s < p.time.size(); ++s) {
    PS_CHECK(p.time[s].size() == n1 && p.send[s].size() == n1, "stage ", s, " arrays");
    for (size_t i = 0; i < n1; ++i) {
      PS_CHECK(std::isfinite(p.time[s][i]) && std::isfinite(p.send[s][i]) && p.send[s][i] >= 0.0, "stage ", s, " layer ", i);
      PS_CHECK(i == 0 || p.time[s][i] >= p.time[s][i - 1], "time prefix of stage ", s, " decreases at ", i);
    }
  }
}

}  // namespace

std::optional<PartitionResult> partition_optimal(const PartitionProblem& p) {
  check_problem(p);
  if (p.stages() > p.layers) return std::nullopt;
  Solver solver(p);
  if (!solver.feasible(std::numeric_limits<double>::infinity())) return std::nullopt;  // memory alone
  // Any fitting split bounds the optimum from above; bisect on the bit patterns in [0, hi].
  uint64_t lo = 0, hi = bits_of(partition_bottleneck(p, solver.backtrack()));
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    if (solver.feasible(double_of(mid))) hi = mid;
    else lo = mid + 1;
  }
  const double best = double_of(hi);
  PartitionResult r{solver.balanced(best), best};
  PS_CHECK(partition_bottleneck(p, r.parts) == best && partition_fits(p, r.parts), "balanced split lost optimality");
  return r;
}

bool partition_feasible(const PartitionProblem& p) {
  check_problem(p);
  if (p.stages() > p.layers) return false;
  Solver solver(p);
  return solver.feasible(std::numeric_limits<double>::infinity());
}

Boundaries partition_balanced(const std::vector<double>& weights, int stages) {
  const int n = static_cast<int>(weights.size());
  PS_CHECK(stages >= 1 && n >= stages, n, " layers, ", stages, " stages");
  PartitionProblem p;
  p.layers = n;
  std::vector<double> prefix(static_cast<size_t>(n) + 1, 0.0);
  for (int i = 0; i < n; ++i) prefix[static_cast<size_t>(i) + 1] = prefix[static_cast<size_t>(i)] + weights[static_cast<size_t>(i)];
  p.time.assign(static_cast<size_t>(stages), prefix);
  p.send.assign(static_cast<size_t>(stages), std::vector<double>(static_cast<size_t>(n) + 1, 0.0));
  p.held.assign(static_cast<size_t>(n) + 1, 0);
  p.peak.assign(static_cast<size_t>(n), 0);
  p.capacity.assign(static_cast<size_t>(stages), std::numeric_limits<int64_t>::max());
  return partition_optimal(p)->parts;
}

std::optional<int> partition_min_stages(const std::vector<int64_t>& held, const std::vector<int64_t>& peak, int64_t capacity) {
  const int n = static_cast<int>(peak.size());
  int stages = 0;
  for (int a = 0; a < n;) {
    int b = a;
    int64_t top = 0;
    while (b < n) {
      const int64_t t = std::max(top, peak[static_cast<size_t>(b)]);
      if (range_memory(held, a, b + 1, t) > capacity) break;
      top = t;
      ++b;
    }
    if (b == a) return std::nullopt;
    ++stages;
    a = b;
  }
  return stages;
}

}  // namespace ps
