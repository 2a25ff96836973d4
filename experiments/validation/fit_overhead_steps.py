#!/usr/bin/env python3
"""Fits HF continuous batching's costs that kvsim's kernel bundle does not know, from the
engine's own step trace (not from the serving metrics `kvsim validate` then checks):

  * attention: HF's paged|sdpa path runs ONE dense SDPA over the whole batch with a mask, so a
    step costs 4 x q_size x (query tokens) x (KV tokens of the batch) FLOPs per layer. kvsim
    models that with cost_model.attention: batch_masked; the fit gives the kernel's efficiency
    (cost_model.attention_compute_efficiency, a share of the bf16 peak);
  * host overhead per forward: per_step + per_request x requests (engine.overhead).

Input: calibration/e2e/results/h200/hf_cb_steps/steps_<run>.csv (one row per forward: the period
between forward starts, query tokens, KV tokens, requests). Model of a step's period:
  period = per_step + per_request x n + (kvsim's device time of the step without attention)
           + dense attention FLOPs / (peak x efficiency)
where the non-attention device time comes from `kvsim step` (shipped H200 bundle). Decode-only
steps are grouped by request count; prefill steps are used one by one. For each efficiency on a
grid, (per_step, per_request) is the least-squares fit; the efficiency with the smallest median
relative residual wins.
Usage (repo root): python3 experiments/validation/fit_overhead_steps.py [--kvsim K] [--run offline]
Standard library only.
"""
import argparse, csv, json, statistics, subprocess
from collections import defaultdict

L, QSIZE, PEAK = 32, 4096, 989.4e12  # Llama-3-8B layers and q heads x head_dim; H200 bf16 dense peak


def step_ms_without_attention(kvsim, phase, batch, context):
    out = subprocess.run([kvsim, "step", "--model", "llama-3-8b", "--gpu", "h200", "--batch", str(batch), "--context",
                          str(context), "--phase", phase, "--overhead", "none", "--format", "json"],
                         capture_output=True, text=True, check=True).stdout
    j = json.loads(out)
    attn = sum(j["ops"].get(k, {"ms": 0})["ms"] for k in ("attn_decode", "attn_prefill"))
    return j["total_ms"] - attn


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kvsim", default="build/release/sim/kvsim")
    ap.add_argument("--run", default="offline")
    a = ap.parse_args()
    rows = list(csv.DictReader(open(f"calibration/e2e/results/h200/hf_cb_steps/steps_{a.run}.csv")))
    groups = defaultdict(list)
    pts = []  # (requests, period_ms, non-attention device ms, dense attention flops)
    for r in rows:
        n, q, kv, period = int(r["requests"]), int(r["q_tokens"]), int(r["kv_tokens"]), float(r["period_ms"])
        if n <= 0 or period <= 0 or kv <= 0:
            continue
        if q == n:
            groups[n].append((period, kv))
        else:  # a step with prefill chunks: query tokens through the GEMMs like one prefill of q tokens
            pts.append((n, period, step_ms_without_attention(a.kvsim, "prefill", 1, q), 4.0 * QSIZE * q * kv * L))
    for n, g in sorted(groups.items()):
        kv = statistics.median(k for _, k in g)
        pts.append((n, statistics.median(p for p, _ in g),
                    step_ms_without_attention(a.kvsim, "decode", n, max(1, round(kv / n))), 4.0 * QSIZE * n * kv * L))
    best = None
    for e100 in range(5, 101):
        eff = e100 / 100
        xs = [n for n, *_ in pts]
        ys = [p - gpu - fl / (PEAK * eff) * 1e3 for n, p, gpu, fl in pts]
        mx, my = statistics.mean(xs), statistics.mean(ys)
        b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        c = my - b * mx
        resid = statistics.median(abs(p - (c + b * n + gpu + fl / (PEAK * eff) * 1e3)) / p for n, p, gpu, fl in pts)
        if best is None or resid < best[0]:
            best = (resid, eff, c, b)
    resid, eff, c, b = best
    print(f"{len(pts)} step groups from '{a.run}': attention efficiency {eff:.2f} of the bf16 peak, host overhead "
          f"{c:.1f} ms + {b*1e3:.0f} us x requests (median |residual| {resid*100:.1f} % of the step period)")
    print(f"use: --set cost_model.attention=batch_masked --set cost_model.attention_compute_efficiency={eff:.2f} "
          f"--set 'engine.overhead={{per_step_ms: {c:.1f}, per_request_us: {b*1e3:.0f}, per_token_us: 0}}'")


if __name__ == "__main__":
    main()
