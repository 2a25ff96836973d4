#!/usr/bin/env python3
"""Fits the extra decode-forward time HF continuous batching pays when the model configures a
sliding window (transformers 5.17: a sliding-attention cache group, whose cache write is a
masked_scatter_ per layer, and the decode fast path disabled; results/h100/hf_cb_path/README.md).

For each batch size N that hf_cb_path_probe.py timed under both `llama` (full attention) and
`mistral_full` (a window longer than any request: the same attention work, the other code path),
the extra time is  p50(mistral_full) - p50(llama)  over the decode-only forwards of the N-request
batch, of the iteration period (forward start to forward start: what a serving step costs, the
forward plus the engine's Python work around it, which the path also makes longer) or, with
--quantity forward, of the CUDA-synchronized forward alone; the batch's KV at mid-decode is
N x (prompt + output / 2). An unweighted least-squares line
extra = fixed + per_kv x KV  is fitted over every run directory given, and printed per forward
and per layer (the probe's models have 32 layers), as the hf-cb profile's window_path terms use.
The two shapes share every layer shape (hidden 4096, 32 heads, 8 KV heads, MLP 14336) and differ
in the vocabulary (128256 vs 32000): Llama's larger lm_head reads about 0.8 GB more weights per
forward (~0.25 ms at an H100's bandwidth), so the extra is understated by about that much.
A fit on a microbenchmark of the engine's forward, never on a serving trace. Standard library only.
Usage: python3 fit_window_path.py DIR [DIR ...]  (each DIR holds hf_cb_path_probe.py's meta.json)
"""
import argparse, csv, json, os, statistics


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--layers", type=int, default=32, help="layers of the probed models (hf_cb_path_probe.py: 32)")
    ap.add_argument("--quantity", choices=["period", "forward"], default="period")
    args = ap.parse_args()
    column = f"{args.quantity}_ms"

    def p50(d, variant, n):
        """Median over the N-request decode-only forwards (the first forward has no period)."""
        rows = [r for r in csv.DictReader(open(os.path.join(d, f"steps_{variant}_b{n}.csv")))
                if int(r["q_tokens"]) == n and float(r["period_ms"]) > 0]
        return statistics.median(float(r[column]) for r in rows)

    rows = []
    for d in args.dirs:
        meta = json.load(open(os.path.join(d, "meta.json")))
        runs = meta["runs"]
        for name, run in sorted(runs.items()):
            if not name.startswith("llama_b"):
                continue
            n = int(name[len("llama_b"):])
            other = runs.get(f"mistral_full_b{n}")
            if not other:
                continue
            kv = n * (meta["prompt"] + meta["output"] / 2)
            rows.append((n, meta["prompt"], kv, p50(d, "llama", n), p50(d, "mistral_full", n)))
    if len(rows) < 2:
        raise SystemExit("need at least two batch sizes timed under both llama and mistral_full")
    rows.sort(key=lambda r: r[2])
    xs = [r[2] for r in rows]
    ys = [r[4] - r[3] for r in rows]
    n = len(rows)
    mx, my = sum(xs) / n, sum(ys) / n
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    fixed = my - slope * mx
    print(f"{'requests x prompt':>18s} {'KV':>8s} {'llama':>8s} {'window':>8s} {'extra':>7s} {'fit':>7s} {'err':>7s}")
    for (req, prompt, kv, a, b), y in zip(rows, ys):
        f = fixed + slope * kv
        print(f"{req:>8d} x {prompt:<7d} {int(kv):8d} {a:8.1f} {b:8.1f} {y:7.1f} {f:7.1f} {100 * (f - y) / y:+6.1f} %")
    print(f"{args.quantity}, decode-only forwards")
    print(f"per forward: {fixed:.3f} ms + {slope * 1e3:.4f} us per KV token")
    print(f"per layer ({args.layers} layers): window_path_fixed_us {fixed * 1e3 / args.layers:.2f}, "
          f"window_path_ns_per_kv {slope * 1e6 / args.layers:.3f}")


if __name__ == "__main__":
    main()
