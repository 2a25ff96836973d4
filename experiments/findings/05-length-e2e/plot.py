#!/usr/bin/python3
"""Plots for findings 5/6: E2E p50/p99 per method with the length effect off/on; length shares."""
import os, sys
from collections import defaultdict
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from common import read_csv, plt  # noqa: E402

d = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
methods = ["fp16", "kivi-4", "gear-4", "h2o", "streamingllm"]


def agg(rows):
    a = defaultdict(list)
    for r in rows:
        a[(float(r["workload.arrival.rate_per_s"]), r["compression.method"], r["compression.length_effect"])].append(r)
    return {k: {c: sum(float(r[c]) for r in v) / len(v) for c in v[0] if c.endswith("_s") or c.endswith("ratio")}
            for k, v in a.items()}


for name in ["sweep_sharegpt", "sweep_long"]:
    p = os.path.join(d, name, "sweep.csv")
    if not os.path.exists(p):
        continue
    A = agg(read_csv(p))
    rates = sorted({k[0] for k in A})
    fig, axes = plt.subplots(2, len(rates), figsize=(4.5 * len(rates), 7), squeeze=False)
    for j, rate in enumerate(rates):
        for i, col in enumerate(["e2e_p50_s", "e2e_p99_s"]):
            ax = axes[i][j]
            x = range(len(methods)); w = 0.38
            off = [A[(rate, m, "false")][col] for m in methods]
            on = [A[(rate, m, "true")][col] for m in methods]
            ax.bar([v - w / 2 for v in x], off, w, label="length effect off")
            ax.bar([v + w / 2 for v in x], on, w, label="length effect on")
            ax.axhline(A[(rate, "fp16", "false")][col], color="k", lw=0.6, ls="--")
            ax.set_xticks(list(x), methods, fontsize=7, rotation=20)
            ax.set_ylabel(col.replace("_s", " (s)")); ax.set_title("%s, %g req/s" % (name, rate), fontsize=9)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    out = os.path.join(d, "e2e_%s.png" % name.split("_")[1])
    fig.savefig(out, dpi=110, bbox_inches="tight"); plt.close(fig); print(out)

L = read_csv(os.path.join(d, "lengths.csv"))
study = {"kivi-4": (0.449, 0.028), "gear-4": (0.494, 0.008), "h2o": (0.143, 0.110), "streamingllm": (0.163, 0.173)}
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
names = [r["method"] for r in L]
for ax, col, idx, lab in [(axes[0], "share_1_5x_longer", 0, "share >= 1.5x longer"),
                          (axes[1], "share_2x_shorter", 1, "share >= 2x shorter")]:
    ax.bar(range(len(L)), [float(r[col]) for r in L], 0.4, label="kvsim (1000 requests)")
    ax.bar([i + 0.4 for i, n in enumerate(names) if n in study], [study[n][idx] for n in names if n in study], 0.4,
           label="study (Mistral-7B, T=1.0)")
    ax.set_xticks(range(len(L)), names, fontsize=7, rotation=30); ax.set_title(lab, fontsize=9)
axes[0].legend(fontsize=7)
out = os.path.join(d, "length_shares.png")
fig.savefig(out, dpi=110, bbox_inches="tight"); print(out)
