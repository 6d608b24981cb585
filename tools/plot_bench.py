#!/usr/bin/python3
"""Plots a `pipeshard bench` results folder (results.json, and trace.json of a configuration run
with --trace) as PNGs:

  throughput.png  tokens/s against micro-batches: measured, predicted by the simulator, and the
                  ideal pipeline: P x the one-stage run's tokens/s x (1 - bubble), with the bubble
                  of P equal stages, (P - 1) / (M + P - 1);
  gantt.png       per-rank timeline of one configuration from its trace: compute coloured by
                  micro-batch, communication (waits included) below it in grey;
  balance.png     per-stage time per micro-batch, measured against predicted, for each
                  configuration.

Usage: /usr/bin/python3 tools/plot_bench.py RESULTS_DIR [--out DIR] [--config N]
Needs Debian's python3-matplotlib (run it with /usr/bin/python3, which sees Debian's packages).
"""
import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt  # noqa: E402


def load_results(folder):
    path = os.path.join(folder, "results.json")
    try:
        with open(path) as f:
            res = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"plot_bench: {path}: {e}")
    if res.get("format") != "pipeshard-bench" or not res.get("configs"):
        sys.exit(f"plot_bench: {path}: not a pipeshard bench result with configurations")
    return res


def series_key(c):
    # A sweep without --batch has batch = M at every point: one series, not one per batch.
    return (c["mode"], c["stages"], "M" if c.get("batch_default") else c["batch"])


def plot_throughput(res, out):
    series = {}
    for c in res["configs"]:
        series.setdefault(series_key(c), []).append(c)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (mode, P, batch), cs in sorted(series.items(), key=lambda kv: str(kv[0])):
        cs.sort(key=lambda c: c["micro_batches"])
        M = [c["micro_batches"] for c in cs]
        label = f"{mode}, P={P}, batch={'M' if batch == 'M' else batch}"
        line = ax.plot(M, [c["measured"]["tokens_per_s"] for c in cs], "o-", label=f"measured ({label})")[0]
        if all("predicted" in c for c in cs):
            ax.plot(M, [c["predicted"]["tokens_per_s"] for c in cs], "s--", color=line.get_color(), alpha=0.7,
                    label="predicted (simulator)")
        ideal = [P * c["reference_tokens_per_s"] * m / (m + P - 1) for c, m in zip(cs, M)]
        ax.plot(M, ideal, ":", color=line.get_color(), label="ideal: P x one-stage x (1 - bubble)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted({c["micro_batches"] for c in res["configs"]}))
    ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.set_xlabel("micro-batches M")
    ax.set_ylabel("tokens/s")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Throughput against micro-batches")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def plot_gantt(trace_path, title, out):
    with open(trace_path) as f:
        events = json.load(f)["traceEvents"]
    names = {e["pid"]: e["args"]["name"] for e in events if e.get("ph") == "M" and e["name"] == "process_name"}
    spans = [e for e in events if e.get("ph") == "X"]
    ranks = sorted({e["pid"] for e in spans})
    cmap = plt.get_cmap("tab10")
    span = max((e["ts"] + e["dur"]) / 1e3 for e in spans) if spans else 1.0
    fig, ax = plt.subplots(figsize=(10, 1.0 + 0.9 * len(ranks)))
    for row, r in enumerate(ranks):
        y = (len(ranks) - 1 - row) * 1.0
        for e in spans:
            if e["pid"] != r:
                continue
            x, w = e["ts"] / 1e3, e["dur"] / 1e3
            if e["tid"] == 0:
                ax.broken_barh([(x, w)], (y + 0.35, 0.5), color=cmap(e["args"]["mb"] % 10), edgecolor="none")
                if e["name"] == "F" and w > span / 80:  # numbers only where they fit
                    ax.text(x + w / 2, y + 0.6, str(e["args"]["mb"]), ha="center", va="center", fontsize=6, color="white")
            else:
                ax.broken_barh([(x, w)], (y + 0.1, 0.2), color="0.6", edgecolor="none")
    ax.set_yticks([(len(ranks) - 1 - i) + 0.5 for i in range(len(ranks))])
    ax.set_yticklabels([names.get(r, f"rank {r}") for r in ranks], fontsize=8)
    ax.set_xlabel("ms (compute above, coloured and numbered by micro-batch; communication and waits below, grey)")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def plot_balance(res, out):
    cs = res["configs"]
    fig, axes = plt.subplots(1, len(cs), figsize=(2.2 + 1.8 * len(cs), 3.8), sharey=True, squeeze=False)
    for ax, c in zip(axes[0], cs):
        st = c["per_stage"]
        x = range(len(st))
        ax.bar([i - 0.2 for i in x], [s["time_per_mb_s"] * 1e3 for s in st], 0.4, label="measured")
        if all("predicted_time_per_mb_s" in s for s in st):
            ax.bar([i + 0.2 for i in x], [s["predicted_time_per_mb_s"] * 1e3 for s in st], 0.4, label="predicted")
        ax.set_xticks(list(x))
        ax.set_xticklabels([f"{s['stage']}\n{s['layers']}" for s in st], fontsize=7)
        ax.set_title(f"M={c['micro_batches']} batch={c['batch']}", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("ms per micro-batch")
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Stage balance: time per micro-batch (stage, layers)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", help="a `pipeshard bench --out-dir` folder")
    ap.add_argument("--out", help="where the PNGs go (default: the results folder)")
    ap.add_argument("--config", type=int, help="configuration index for the Gantt chart (default: the last with a trace)")
    a = ap.parse_args()
    res = load_results(a.results)
    out = a.out or a.results
    os.makedirs(out, exist_ok=True)
    written = []
    plot_throughput(res, os.path.join(out, "throughput.png"))
    written.append("throughput.png")
    plot_balance(res, os.path.join(out, "balance.png"))
    written.append("balance.png")
    cs = res["configs"]
    picks = [a.config] if a.config is not None else reversed(range(len(cs)))
    for i in picks:
        if not 0 <= i < len(cs):
            sys.exit(f"plot_bench: --config {i}: the results have configurations 0..{len(cs) - 1}")
        trace = os.path.join(a.results, cs[i]["dir"], "trace.json")
        if os.path.exists(trace):
            c = cs[i]
            plot_gantt(trace, f"{c['mode']}, P={c['stages']}, M={c['micro_batches']}, batch={c['batch']}",
                       os.path.join(out, "gantt.png"))
            written.append("gantt.png")
            break
    else:
        print("plot_bench: no trace.json (run bench with --trace) -- no Gantt chart", file=sys.stderr)
    print("plot_bench: wrote " + ", ".join(os.path.join(out, w) for w in written))


if __name__ == "__main__":
    main()
