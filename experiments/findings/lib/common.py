"""Helpers shared by the findings' plot scripts (matplotlib from Debian's python3-matplotlib)."""
import csv, json, os
from collections import defaultdict

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402,F401


def read_csv(path):
    with open(path) as f:
        lines = [l for l in f if not l.startswith("#")]
    return list(csv.DictReader(lines))


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def step_table(rows, label=None, value="total_ms"):
    """{(method, tensor, batch, context): value} for one label."""
    t = {}
    for r in rows:
        if label is not None and r["label"] != label:
            continue
        t[(r["method"], int(r["tensor"]), int(r["batch"]), int(r["context"]))] = float(r[value])
    return t


def gain_heatmaps(rows, label, methods, out, title):
    t = step_table(rows, label)
    batches = sorted({k[2] for k in t})
    ctxs = sorted({k[3] for k in t})
    fig, axes = plt.subplots(1, len(methods), figsize=(3.6 * len(methods), 3.4), squeeze=False)
    for ax, m in zip(axes[0], methods):
        g = [[t[("fp16", 1, b, c)] / t[(m, 1, b, c)] for c in ctxs] for b in batches]
        im = ax.imshow(g, origin="lower", cmap="RdBu", vmin=0.5, vmax=1.5, aspect="auto")
        for i in range(len(batches)):
            for j in range(len(ctxs)):
                ax.text(j, i, "%.2f" % g[i][j], ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(ctxs)), [str(c) for c in ctxs], fontsize=7)
        ax.set_yticks(range(len(batches)), [str(b) for b in batches], fontsize=7)
        ax.set_xlabel("context (tokens)")
        ax.set_ylabel("batch")
        ax.set_title("%s: fp16 time / method time" % m, fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)
    print(out)
