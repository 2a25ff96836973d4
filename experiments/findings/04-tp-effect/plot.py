#!/usr/bin/python3
"""Plot for finding 4: decode gain (fp16 time / method time) against TP degree."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from common import read_csv, step_table, plt  # noqa: E402

d = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
rows = read_csv(os.path.join(d, "tp.csv"))
methods = ["kivi-4", "kivi-2", "gear-4", "int4", "int8", "h2o", "streamingllm"]
panels = [("l3-8b-roofline", 64, 8192), ("l2-7b-roofline", 64, 4096), ("l3-70b-roofline", 64, 8192),
          ("l3-70b-bundle", 64, 8192)]
fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8))
for ax, (label, b, c) in zip(axes, panels):
    t = step_table(rows, label)
    for m in methods:
        Ts = sorted({k[1] for k in t if k[0] == m and k[2] == b and k[3] == c})
        ax.plot(Ts, [t[("fp16", T, b, c)] / t[(m, T, b, c)] for T in Ts], marker="o", label=m)
    ax.axhline(1.0, color="k", lw=0.6)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("tensor-parallel GPUs"); ax.set_ylabel("decode gain (fp16 / method)")
    ax.set_title("%s, batch %d x %d" % (label, b, c), fontsize=9); ax.grid(alpha=0.3)
axes[0].legend(fontsize=7)
out = os.path.join(d, "tp_gain.png")
fig.savefig(out, dpi=110, bbox_inches="tight"); print(out)
