#!/usr/bin/env python3
"""PyTorch's GEMMs at a model's linear-layer shapes, timed alone (a framework microbenchmark).

kvsim-calibrate times cuBLAS (cublasGemmEx, weights [out, in], y = x W^T). A framework reaches
cuBLAS through its own path (API, workspace, heuristics), and cuBLAS picks its kernel by layout:
the end-to-end Llama's profile showed `x @ W` (weights [in, out]) choosing a 448x64 tile at 128 rows
that takes 96 us per gate_up where kvsim-calibrate's call takes 68 us. This script times
F.linear (layout `linear`) and x @ W (layout `matmul`) over the bundle's row grid and writes rows in
the bundle's gemm.csv schema with dtype `torch_linear` / `torch_matmul`, so a bundle overlay can
price GEMMs with the framework's own kernels (`cost_model.gemm_variant`; compare.py builds it).

No model and no end-to-end timing: each GEMM is launched N times in a CUDA graph over rotating
weight sets (so weights are read from HBM, not L2), CUDA events, median per launch; the GPU rests
between replays as kvsim-calibrate's GEMM family does (--back-to-back: it does not).
Output: <out>/gemm_torch_<shape>.csv and a .meta.json.
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from results_io import write_csv, write_json  # noqa: E402
from torch_timing import REST_MIN_S, REST_RATIO, time_graph_per_launch  # noqa: E402

# hidden, q heads, kv heads, head_dim, ffn, vocab (per GPU), as kvsim-calibrate's --model-shape.
SHAPES = {"llama-2-7b": (4096, 32, 32, 128, 11008, 32000), "llama-3-8b": (4096, 32, 8, 128, 14336, 128256)}
ROWS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--shape", default="llama-3-8b", choices=sorted(SHAPES))
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--back-to-back", action="store_true",
                    help="replay without resting the GPU between replays (the first shipped tables did; see torch_timing.REST_*)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    h, qh, kvh, d, ffn, vocab = SHAPES[args.shape]
    ops = {"qkv": (h, (qh + 2 * kvh) * d), "o": (qh * d, h), "gate_up": (h, 2 * ffn), "down": (ffn, h), "lm_head": (h, vocab)}
    dev = torch.device("cuda")
    rows = []
    with torch.no_grad():
        for layout in ("linear", "matmul"):
            for op, (k, n) in ops.items():
                wbytes = k * n * 2
                nsets = max(1, min(8, -(-256 * 2**20 // wbytes)))
                ws = [(torch.randn(n, k, device=dev, dtype=torch.float16) * 0.02) if layout == "linear"
                      else (torch.randn(k, n, device=dev, dtype=torch.float16) * 0.02) for _ in range(nsets)]
                for m in ROWS:
                    if op == "lm_head" and m > 1024:
                        continue  # sampled rows only
                    x = torch.randn(m, k, device=dev, dtype=torch.float16)
                    if layout == "linear":
                        fns = [lambda w=w: F.linear(x, w) for w in ws]
                    else:
                        fns = [lambda w=w: x @ w for w in ws]
                    med, p10, p90, launches = time_graph_per_launch(fns, args.reps, rested=not args.back_to_back)
                    tflops = 2.0 * m * n * k / (med * 1e-6) / 1e12
                    rows.append(dict(op=op, dtype="torch_" + layout, m=m, n=n, k=k, time_us_median=round(med, 3),
                                     time_us_p10=round(p10, 3), time_us_p90=round(p90, 3), reps=args.reps,
                                     tflops=round(tflops, 2), launches_per_rep=launches, input_sets=nsets))
                    del x
                mine = {r["m"]: r["time_us_median"] for r in rows if r["op"] == op and r["dtype"] == "torch_" + layout}
                print(f"gemm {args.shape} {layout} {op}: m=1 {mine.get(1)} us, m=128 {mine.get(128)} us", flush=True)
                del ws
                torch.cuda.empty_cache()
    path = os.path.join(args.out, f"gemm_torch_{args.shape}.csv")
    write_csv(path, rows)
    meta = dict(tool="torch_gemm_bench.py", shape=args.shape, gpu=torch.cuda.get_device_name(0), torch=torch.__version__,
                cuda=torch.version.cuda, date_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                pacing="back_to_back" if args.back_to_back else f"rested: idle max({REST_MIN_S * 1e3:g} ms, {REST_RATIO:g} x replay) between replays",
                note="fp16 F.linear (torch_linear) and x @ W (torch_matmul); graph-replayed chain over rotating weight sets, median per launch")
    write_json(path.replace(".csv", ".meta.json"), meta)


if __name__ == "__main__":
    main()
