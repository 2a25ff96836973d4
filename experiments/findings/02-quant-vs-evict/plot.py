#!/usr/bin/python3
"""Plots for finding 2: fixed-batch decode time vs context; batch / throughput vs prompt length."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from common import read_csv, step_table, plt  # noqa: E402

d = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
rows = read_csv(os.path.join(d, "step_fixed_batch.csv"))
methods = ["fp16", "kivi-4", "kivi-2", "gear-4", "gear-8", "int4", "int8", "fp8", "h2o", "streamingllm", "snapkv"]
styles = {m: ("--" if m in ("h2o", "streamingllm", "snapkv") else "-") for m in methods}
fig, axes = plt.subplots(2, 2, figsize=(12, 8))
for row, (label, title) in enumerate([("h200-bundle", "Llama-3-8B / H200, measured bundle"),
                                      ("a100-roofline", "Llama-2-7B / A100-80GB, roofline")]):
    t = step_table(rows, label)
    for col, b in enumerate([16, 64]):
        ax = axes[row][col]
        for m in methods:
            cs = sorted({k[3] for k in t if k[0] == m and k[2] == b})
            ax.plot(cs, [t[(m, 1, b, c)] for c in cs], styles[m], marker="o", ms=3, label=m)
        ax.set_title("%s, batch %d" % (title, b), fontsize=9)
        ax.set_xlabel("context (tokens)")
        ax.set_ylabel("decode step time (ms)")
        ax.grid(alpha=0.3)
axes[0][0].legend(fontsize=7, ncol=2)
out = os.path.join(d, "decode_time_vs_context.png")
fig.savefig(out, dpi=110, bbox_inches="tight"); plt.close(fig); print(out)

for name in ["sweep_a100", "sweep_h200"]:
    p = os.path.join(d, name, "sweep.csv")
    if not os.path.exists(p):
        continue
    sw = read_csv(p)
    ms = list(dict.fromkeys(r["compression.method"] for r in sw))
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    for ax, (col, lab) in zip(axes, [("batch_mean", "mean decode batch"), ("preempt_recompute", "recompute preemptions"),
                                     ("requests_per_s", "requests/s (offline batch)")]):
        for m in ms:
            pts = sorted((int(r["workload.prompt_tokens.value"]), float(r[col])) for r in sw if r["compression.method"] == m)
            ax.plot([x for x, _ in pts], [y for _, y in pts], "--" if m in ("h2o", "streamingllm") else "-",
                    marker="o", label=m)
        ax.set_xlabel("prompt tokens (fixed)"); ax.set_ylabel(lab); ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle({"sweep_a100": "Llama-2-7B / A100-80GB (roofline), 400 requests at once, length effect off",
                  "sweep_h200": "Llama-3-8B / H200 (bundle), 600 requests at once, length effect off"}[name], fontsize=10)
    out = os.path.join(d, "capacity_%s.png" % name.split("_")[1])
    fig.savefig(out, dpi=110, bbox_inches="tight"); plt.close(fig); print(out)
