#!/usr/bin/python3
"""Plots for finding 1 from step_grid.csv: gain heatmaps per setup, and step time vs context."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from common import read_csv, gain_heatmaps, step_table, plt  # noqa: E402

d = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
rows = read_csv(os.path.join(d, "step_grid.csv"))
methods = ["kivi-4", "kivi-2", "h2o", "streamingllm"]
titles = {
    "h200-bundle": "Llama-3-8B / H200 / vLLM V1, measured bundle: decode gain over fp16",
    "h200-roofline": "Llama-3-8B / H200 / vLLM V1, roofline (placeholder quantized efficiencies)",
    "a6000-roofline": "Llama-2-7B / RTX A6000 (study hardware), roofline",
    "h200-bundle-eager": "Llama-3-8B / H200, bundle + eager CPU overhead (25 ms/step)",
}
for label, title in titles.items():
    gain_heatmaps(rows, label, methods, os.path.join(d, "gain_%s.png" % label), title)

t = step_table(rows, "h200-bundle", "tokens_per_s")
fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
for ax, b in zip(axes, [1, 16, 64]):
    for m in ["fp16"] + methods:
        ctx = sorted({k[3] for k in t if k[0] == m and k[2] == b})
        ax.plot(ctx, [t[(m, 1, b, c)] for c in ctx], marker="o", label=m)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("context (tokens)")
    ax.set_ylabel("decode tokens/s")
    ax.set_title("batch %d (Llama-3-8B/H200, bundle)" % b, fontsize=9)
    ax.grid(alpha=0.3)
axes[0].legend(fontsize=7)
out = os.path.join(d, "decode_tokens_per_s.png")
fig.savefig(out, dpi=110, bbox_inches="tight")
print(out)
