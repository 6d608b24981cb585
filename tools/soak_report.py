#!/usr/bin/python3
"""Summarises a soak run (tools/soak.sh): throughput per 5-minute window and, per rank, the
least-squares slope of RssAnon over the last 20 minutes as a fraction of its mean level."""
import csv
import sys
from collections import defaultdict


def slope(points):
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    sxx = sum((t - mx) ** 2 for t, _ in points)
    sxy = sum((t - mx) * (v - my) for t, v in points)
    return (sxy / sxx if sxx else 0.0), my


def main(path):
    rows = list(csv.DictReader(open(path)))
    if not rows:
        sys.exit("soak_report: no samples")
    end = max(int(r["t_s"]) for r in rows)
    by_rank = defaultdict(list)
    results = {}
    for r in rows:
        t = int(r["t_s"])
        by_rank[int(r["rank"])].append((t, int(r["rss_anon_kb"])))
        results[t] = int(r["results"])
    print(f"soak: {end} s, {max(results.values())} requests completed")
    print("throughput (requests/s) per 5-minute window:")
    times = sorted(results)
    for w0 in range(0, end, 300):
        inside = [t for t in times if w0 <= t <= w0 + 300]
        if len(inside) >= 2:
            t0, t1 = inside[0], inside[-1]
            print(f"  {w0 // 60:3d}-{(w0 + 300) // 60:3d} min: {(results[t1] - results[t0]) / max(t1 - t0, 1):8.1f}")
    window = 20 * 60
    ok = True
    print(f"RssAnon over the last {min(window, end) // 60} minutes (slope relative to level, per 20 minutes):")
    for rank in sorted(by_rank):
        pts = [(t, v) for t, v in by_rank[rank] if t >= end - window]
        s, level = slope(pts)
        rel = s * window / level if level else 0.0
        ok &= abs(rel) < 0.01
        print(f"  rank {rank}: level {level / 1024:7.1f} MiB, min {min(v for _, v in pts) / 1024:7.1f}, "
              f"max {max(v for _, v in pts) / 1024:7.1f}, slope {s * 60:+.2f} KiB/min = {100 * rel:+.3f}% per 20 min")
    print("result:", "PASS (every rank under 1%)" if ok else "FAIL (a rank grew 1% or more)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
