#!/usr/bin/python3
"""Plots for the routing finding: E2E mean / p50 / p99 per cluster layout and router."""
import os, sys
from collections import defaultdict
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from common import read_csv, plt  # noqa: E402

d = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
ORDER = ["all-fp16", "all-kivi-4", "all-gear-4", "all-h2o", "all-streamingllm", "mixed-4", "mixed-sl"]


def layout(r):
    ms = [r["cluster.replicas.%d.compression" % i] for i in range(4)]
    if len(set(ms)) == 1:
        return "all-" + ms[0]
    return "mixed-4" if "kivi-4" in ms else "mixed-sl"


def table(path):
    a = defaultdict(list)
    for r in read_csv(path):
        a[(float(r["workload.arrival.rate_per_s"]), r["cluster.router"], layout(r))].append(r)
    return {k: {c: sum(float(r[c]) for r in v) / len(v) for c in ("e2e_mean_s", "e2e_p50_s", "e2e_p99_s")}
            for k, v in a.items()}


for name in ["sweep_mixed", "sweep_long"]:
    p = os.path.join(d, name, "sweep.csv")
    if not os.path.exists(p):
        continue
    A = table(p)
    rates = sorted({k[0] for k in A})
    fig, axes = plt.subplots(3, len(rates), figsize=(4.8 * len(rates), 9), squeeze=False)
    for j, rate in enumerate(rates):
        for i, col in enumerate(["e2e_mean_s", "e2e_p50_s", "e2e_p99_s"]):
            ax = axes[i][j]; w = 0.38
            for k, router in enumerate(["compression_aware", "least_outstanding"]):
                ax.bar([x + (k - 0.5) * w for x in range(len(ORDER))], [A[(rate, router, l)][col] for l in ORDER], w,
                       label=router)
            best_single = min(A[(rate, r, l)][col] for r in ("compression_aware", "least_outstanding")
                              for l in ORDER if l.startswith("all-"))
            ax.axhline(best_single, color="k", lw=0.7, ls="--")
            ax.set_xticks(range(len(ORDER)), ORDER, fontsize=7, rotation=25)
            ax.set_ylabel(col.replace("_s", " (s)")); ax.set_title("%s, %g req/s (dashed: best single-method)" % (name, rate), fontsize=8)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    out = os.path.join(d, "e2e_%s.png" % name.split("_")[1])
    fig.savefig(out, dpi=110, bbox_inches="tight"); plt.close(fig); print(out)
