#!/usr/bin/env python3
"""Prices every iteration of an HF continuous-batching step trace (hf_cb_serving.py --trace-steps:
steps_*.csv with q_tokens, kv_tokens, requests, period_ms) with `kvsim step --shapes`, and compares
the predicted step time with the measured period (forward start to forward start), by kind of step:
decode-only iterations, and iterations that carry prompt tokens, binned by their query tokens.

The trace gives each iteration's query tokens Q, batch KV tokens K and requests R, not how they split
between decodes and prompt chunks. A prompt-carrying iteration is priced as R - 1 decodes plus one
prompt chunk of Q - (R - 1) tokens, with the decodes' contexts summing to the rest of K. Under the
batch-masked attention HF runs (one SDPA over Q query tokens x K KV tokens), that split keeps
everything the hf-cb profile prices the same (tokens through the GEMMs, Q, K, and R sampled rows),
so the comparison is exact as far as the trace goes. No constant is fitted here.
Usage: python3 step_trace_check.py --kvsim build/release/sim/kvsim --model llama-3-8b --gpu h100-sxm \\
           calibration/e2e/results/h100/hf_cb_llama/steps_rate8.csv [...]
"""
import argparse, csv, os, statistics, subprocess, sys, tempfile

BINS = [(1, 256), (256, 1024), (1024, 2048), (2048, 4096), (4096, 8193)]


def shapes_of(path):
    """(kind, q, shape row, measured period ms) for each iteration with a period."""
    out = []
    for r in csv.DictReader(open(path)):
        period = float(r["period_ms"])
        if period <= 0:
            continue
        q, k, n = int(r["q_tokens"]), int(r["kv_tokens"]), int(r["requests"])
        if q == n:  # decode-only
            out.append(("decode", q, ("decode", n, max(1, round(k / n)), "", ""), period))
            continue
        decodes = n - 1
        chunk = q - decodes
        if decodes == 0:
            out.append(("prompt", q, ("mixed", 0, 1, chunk, max(0, k - chunk)), period))
        else:
            ctx = max(1, round((k - chunk) / decodes))
            out.append(("prompt", q, ("mixed", decodes, ctx, chunk, 0), period))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("traces", nargs="+")
    ap.add_argument("--kvsim", default="build/release/sim/kvsim")
    ap.add_argument("--model", required=True)
    ap.add_argument("--gpu", required=True)
    ap.add_argument("--engine", default="hf-cb")
    args = ap.parse_args()
    steps = []
    for t in args.traces:
        steps += [(os.path.basename(t),) + s for s in shapes_of(t)]
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        f.write("phase,batch,context,prefill_tokens,prefill_cached\n")
        for s in steps:
            f.write(",".join(str(x) for x in s[3]) + "\n")
        shapes = f.name
    try:
        res = subprocess.run([args.kvsim, "step", "--model", args.model, "--gpu", args.gpu, "--engine", args.engine,
                              "--shapes", shapes], capture_output=True, text=True)
    finally:
        os.unlink(shapes)
    if res.returncode != 0:
        sys.exit(res.stderr.strip())
    predicted = [float(r["total_ms"]) for r in csv.DictReader(res.stdout.splitlines())]
    print(f"{'trace':18s} {'kind':8s} {'query tokens':>13s} {'steps':>6s} {'measured ms':>12s} {'kvsim ms':>9s} {'median err':>10s}")
    groups = {}
    for s, p in zip(steps, predicted):
        name, kind, q, _, period = s
        b = "" if kind == "decode" else next(f"{lo}-{hi - 1}" for lo, hi in BINS if lo <= q < hi)
        for key in ((name, kind, b), ("all", kind, b)):
            groups.setdefault(key, []).append((period, p))
    for (name, kind, b), rows in sorted(groups.items(), key=lambda kv: (kv[0][0] == "all", kv[0][0], kv[0][1], int(kv[0][2].split("-")[0] or 0))):
        m = statistics.median(r[0] for r in rows)
        p = statistics.median(r[1] for r in rows)
        e = statistics.median((r[1] - r[0]) / r[0] for r in rows)
        print(f"{name:18s} {kind:8s} {b:>13s} {len(rows):6d} {m:12.1f} {p:9.1f} {100 * e:+9.1f} %")


if __name__ == "__main__":
    main()
