#!/usr/bin/env python3
"""Fits HF's paged|sdpa attention layer (host_overhead_probe.py part paged_sdpa, graph-replayed
device time) to  t(q, kv) = fixed + ns_per_kv * kv + ps_per_pair * q * kv  per layer, minimizing
relative error, and prints the constants the hf-cb engine profile uses with each point's error.
One query token (a batch of one decoding request) runs a different, faster SDPA kernel, so
q = 1 gets its own  fixed + ns_per_kv * kv  (printed as masked_single_*); the main fit uses q >= 2.
A fit on a kernel microbenchmark, never on a serving trace. Standard library only.
Usage: python3 fit_paged_sdpa.py calibration/e2e/results/h200/host_probe/hf_paged_sdpa.csv [--min-q N]
"""
import argparse, csv


def solve3(a, b):
    """Gaussian elimination for a 3x3 system."""
    m = [row[:] + [v] for row, v in zip(a, b)]
    for i in range(3):
        p = max(range(i, 3), key=lambda r: abs(m[r][i]))
        m[i], m[p] = m[p], m[i]
        for r in range(3):
            if r != i:
                f = m[r][i] / m[i][i]
                m[r] = [x - f * y for x, y in zip(m[r], m[i])]
    return [m[i][3] / m[i][i] for i in range(3)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--min-q", type=int, default=2, help="main fit: points with at least this many query tokens")
    args = ap.parse_args()
    pts = [(float(r["q_tokens"]), float(r["kv_tokens"]), float(r["device_us_median"])) for r in csv.DictReader(open(args.csv))]
    fixed, per_kv, per_pair = fit3([p for p in pts if p[0] >= args.min_q])
    single = [p for p in pts if p[0] == 1]
    s_fixed, s_kv, _ = fit3(single, pair=False) if len(single) >= 2 else (0.0, 0.0, 0.0)
    errs = []
    for q, kv, t in pts:
        model = s_fixed + s_kv * kv if q == 1 and single else fixed + per_kv * kv + per_pair * q * kv
        e = (model - t) / t
        errs.append(abs(e))
        print(f"  q {int(q):5d} kv {int(kv):6d}  measured {t:9.2f} us  fit {100 * e:+6.1f} %")
    print(f"masked_fixed_us {fixed:.2f} masked_ns_per_kv {per_kv * 1e3:.4f} masked_ps_per_pair {per_pair * 1e6:.4f}")
    print(f"masked_single_fixed_us {s_fixed:.2f} masked_single_ns_per_kv {s_kv * 1e3:.4f}")
    print(f"points {len(pts)}, mean |error| {100 * sum(errs) / len(errs):.1f} %, max {100 * max(errs):.1f} %")


def fit3(points, pair=True):
    """Relative-error least squares of t = a + b kv (+ c q kv)."""
    n = 3 if pair else 2
    ata = [[0.0] * 3 for _ in range(3)]
    atb = [0.0] * 3
    for q, kv, t in points:
        x = [1 / t, kv / t, q * kv / t if pair else 0.0]
        for i in range(3):
            atb[i] += x[i]
            for j in range(3):
                ata[i][j] += x[i] * x[j]
    if not pair:
        ata[2][2] = 1.0  # c fixed at 0
    return solve3(ata, atb)[:n] + ([] if pair else [0.0])

if __name__ == "__main__":
    main()
