#!/usr/bin/env python3
"""Fits HF continuous batching's host overhead from its own step trace (not from the serving
metrics that `kvsim validate` then checks).

Input: calibration/e2e/results/h200/hf_cb_steps/steps_<run>.csv, one row per forward pass:
the period between forward starts (host work included), query tokens, KV tokens, requests.
For decode-only steps (query tokens == requests), grouped by request count, the host overhead
is the measured period minus kvsim's predicted device time of that decode batch
(`kvsim step --overhead none`, the shipped H200 bundle). A least-squares line
overhead = per_step + per_request x requests is the fit.
Usage (repo root): python3 experiments/validation/fit_overhead_steps.py [--kvsim K] [--run offline]
Standard library only.
"""
import argparse, csv, json, statistics, subprocess
from collections import defaultdict


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kvsim", default="build/release/sim/kvsim")
    ap.add_argument("--run", default="offline")
    a = ap.parse_args()
    rows = list(csv.DictReader(open(f"calibration/e2e/results/h200/hf_cb_steps/steps_{a.run}.csv")))
    groups = defaultdict(list)
    for r in rows:
        n, q, kv, period = int(r["requests"]), int(r["q_tokens"]), int(r["kv_tokens"]), float(r["period_ms"])
        if n > 0 and q == n and period > 0 and kv > 0:
            groups[n].append((period, kv))
    xs, ys = [], []
    for n, pts in sorted(groups.items()):
        period = statistics.median(p for p, _ in pts)
        context = max(1, round(statistics.median(k for _, k in pts) / n))
        out = subprocess.run([a.kvsim, "step", "--model", "llama-3-8b", "--gpu", "h200", "--batch", str(n), "--context",
                              str(context), "--phase", "decode", "--overhead", "none", "--format", "json"],
                             capture_output=True, text=True, check=True).stdout
        gpu = json.loads(out)["total_ms"]
        xs.append(n)
        ys.append(period - gpu)
    mx, my = statistics.mean(xs), statistics.mean(ys)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    c = my - b * mx
    resid = [abs(y - (c + b * x)) / y for x, y in zip(xs, ys)]
    print(f"{len(xs)} decode batch sizes ({min(xs)}-{max(xs)} requests) from {a.run}: host overhead = "
          f"{c:.1f} ms + {b*1e3:.0f} us x requests (median |residual| {statistics.median(resid)*100:.1f} %)")
    print(f"use: --set 'engine.overhead={{per_step_ms: {c:.1f}, per_request_us: {b*1e3:.0f}, per_token_us: 0}}'")


if __name__ == "__main__":
    main()
