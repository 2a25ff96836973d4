#!/usr/bin/python3
"""Plot for finding 3: prefill time of each method relative to fp16, against prompt length."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from common import read_csv, step_table, plt  # noqa: E402

d = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
rows = read_csv(os.path.join(d, "prefill.csv"))
labels = [("h200-bundle", "Llama-3-8B / H200, bundle"), ("h200-roofline", "Llama-3-8B / H200, roofline"),
          ("a6000-roofline", "Llama-2-7B / RTX A6000, roofline")]
methods = ["kivi-4", "kivi-2", "gear-4", "gear-8", "h2o", "snapkv", "streamingllm"]
fig, axes = plt.subplots(2, 3, figsize=(15, 7.5))
for col, (label, title) in enumerate(labels):
    t = step_table(rows, label)
    for row, b in enumerate([1, 4]):
        ax = axes[row][col]
        for m in methods:
            cs = sorted({k[3] for k in t if k[0] == m and k[2] == b})
            ax.plot(cs, [t[(m, 1, b, c)] / t[("fp16", 1, b, c)] for c in cs], marker="o", ms=3, label=m)
        ax.set_xscale("log", base=2)
        ax.axhline(1.0, color="k", lw=0.6)
        ax.set_title("%s, batch %d" % (title, b), fontsize=9)
        ax.set_xlabel("prompt tokens"); ax.set_ylabel("prefill time / fp16 prefill time")
        ax.grid(alpha=0.3)
axes[0][0].legend(fontsize=7)
out = os.path.join(d, "prefill_penalty.png")
fig.savefig(out, dpi=110, bbox_inches="tight"); print(out)
