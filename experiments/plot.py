#!/usr/bin/python3
"""Turn kvsim sweep or plan results into PNG plots (matplotlib from Debian's python3-matplotlib).

  python3 experiments/plot.py RESULTS_DIR [--out PLOTS_DIR]

RESULTS_DIR holds sweep.jsonl (from `kvsim sweep`) and/or plan.json (from `kvsim plan --out`).
Plots written (those the data supports):
  throughput_vs_<axis>.png     output tokens/s against each numeric swept axis, one line per method
  latency_cdf.png              E2E latency CDF (from each run's percentiles) per method
  capacity_vs_ratio.png        KV capacity (tokens) and achieved ratio against compression ratio
  qps_at_slo_vs_quality.png    plan: sustainable request rate at the SLO against quality score
"""
import argparse, json, os, sys
from collections import defaultdict

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load_sweep(path):
    rows = []
    with open(path) as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
    return rows


def method_of(params):
    # The method may be swept as `compression` or as a key inside it (`compression.method`, ...).
    parts = [f"{k}={v}" if k != "compression" else str(v) for k, v in sorted(params.items())
             if k == "compression" or k.startswith("compression.")]
    return ", ".join(parts) if parts else "fp16"


def numeric(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def mean(xs):
    return sum(xs) / len(xs)


def plot_sweep(rows, out):
    written = []
    keys = sorted({k for r in rows for k in r["params"] if k != "compression" and not k.startswith("compression.")})
    for key in keys:
        series = defaultdict(lambda: defaultdict(list))
        for r in rows:
            x = numeric(r["params"].get(key))
            if x is None:
                continue
            series[method_of(r["params"])][x].append(r["metrics"]["output_tokens_per_s"])
        if not series:
            continue
        plt.figure(figsize=(6, 4))
        for m, pts in sorted(series.items()):
            xs = sorted(pts)
            plt.plot(xs, [mean(pts[x]) for x in xs], marker="o", label=m)
        plt.xlabel(key)
        plt.ylabel("output tokens / s")
        plt.title(f"throughput vs {key}")
        plt.grid(alpha=0.3)
        plt.legend(fontsize=8)
        name = os.path.join(out, f"throughput_vs_{key.replace('.', '_')}.png")
        plt.tight_layout()
        plt.savefig(name, dpi=120)
        plt.close()
        written.append(name)
    # Latency CDF per method from the run percentiles (p50, p90, p99, max), pooled over points.
    pct = [("e2e_p50_s", 0.50), ("e2e_p90_s", 0.90), ("e2e_p99_s", 0.99)]
    by = defaultdict(list)
    for r in rows:
        by[method_of(r["params"])].append(r["metrics"])
    plt.figure(figsize=(6, 4))
    for m, ms in sorted(by.items()):
        xs = [mean([x[k] for x in ms]) for k, _ in pct]
        plt.plot(xs, [q for _, q in pct], marker="o", label=m)
    plt.xlabel("end-to-end latency (s)")
    plt.ylabel("CDF")
    plt.title("E2E latency (mean over sweep points of each percentile)")
    plt.grid(alpha=0.3)
    plt.legend(fontsize=8)
    name = os.path.join(out, "latency_cdf.png")
    plt.tight_layout()
    plt.savefig(name, dpi=120)
    plt.close()
    written.append(name)
    # Capacity vs ratio for generic ratio methods (ratio:X), or achieved ratio per method.
    cap = defaultdict(list)
    for r in rows:
        m = method_of(r["params"])
        x = numeric(m.split(":")[1]) if m.startswith("ratio:") else (1.0 if m == "fp16" else None)
        if x is not None:
            cap[x].append((r["metrics"]["kv_capacity_tokens"], r["metrics"]["achieved_ratio"]))
    if len(cap) >= 2:
        xs = sorted(cap)
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(xs, [mean([c for c, _ in cap[x]]) for x in xs], marker="o", color="C0")
        ax.set_xlabel("compression ratio")
        ax.set_ylabel("KV capacity (tokens)", color="C0")
        ax2 = ax.twinx()
        ax2.plot(xs, [mean([a for _, a in cap[x]]) for x in xs], marker="s", color="C1")
        ax2.set_ylabel("achieved ratio", color="C1")
        ax.set_title("capacity vs compression ratio")
        ax.grid(alpha=0.3)
        name = os.path.join(out, "capacity_vs_ratio.png")
        fig.tight_layout()
        fig.savefig(name, dpi=120)
        plt.close(fig)
        written.append(name)
    return written


def plot_plan(plan, out):
    c = plan["candidates"]
    plt.figure(figsize=(6, 4))
    for x in c:
        label = " ".join(f"{k}={v}" for k, v in x["params"].items())
        plt.scatter([x["quality"]], [x["rate_per_s"]], s=40)
        lo, hi = x["band_per_s"]
        plt.vlines(x["quality"], lo, hi, alpha=0.4)
        plt.annotate(label, (x["quality"], x["rate_per_s"]), fontsize=7, xytext=(4, 2), textcoords="offset points")
    plt.xlabel("quality score")
    plt.ylabel("requests / s per replica at the SLO")
    plt.title("QPS at SLO vs quality (bars: uncertainty band)")
    plt.grid(alpha=0.3)
    name = os.path.join(out, "qps_at_slo_vs_quality.png")
    plt.tight_layout()
    plt.savefig(name, dpi=120)
    plt.close()
    return [name]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    out = a.out or os.path.join(a.results, "plots")
    os.makedirs(out, exist_ok=True)
    written = []
    sweep = os.path.join(a.results, "sweep.jsonl")
    plan = os.path.join(a.results, "plan.json")
    if os.path.exists(sweep):
        written += plot_sweep(load_sweep(sweep), out)
    if os.path.exists(plan):
        with open(plan) as f:
            written += plot_plan(json.load(f), out)
    if not written:
        print(f"plot.py: {a.results} holds neither sweep.jsonl nor plan.json", file=sys.stderr)
        return 2
    for w in written:
        print(w)
    return 0


if __name__ == "__main__":
    sys.exit(main())
