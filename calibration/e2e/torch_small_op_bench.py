#!/usr/bin/env python3
"""PyTorch's cost per small kernel inside a CUDA graph: a microbenchmark of the framework.

An unfused framework launches many small kernels per layer (rotary as a dozen elementwise ops,
strided copies into the KV cache, casts, stacks). kvsim costs each of them as one launch of its own
minimal kernel unless told what the framework's small kernel costs. This script measures that: a
chain of N dependent PyTorch ops on small tensors, captured in one CUDA graph and replayed, timed
with CUDA events; time / N is the per-kernel cost including the gap between kernels. It runs each
op kind alone and a mix of all of them, at several row counts.

It shares nothing with torch_llama_e2e.py's timing (different tensors, different ops, no model),
so a kvsim parameter set from it is not fitted to the end-to-end measurement.

Output: <out>/torch_small_op.csv and torch_small_op.meta.json.
"""
import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from results_io import write_csv, write_json  # noqa: E402


def ops(width):
    # Each returns a new tensor of x's shape from x, as the model's small ops do; each is one kernel.
    half = width // 2
    return {
        "mul": lambda x: x * 1.0001,
        "add": lambda x: x + x,
        "silu": lambda x: F.silu(x),
        "cast_fp32_fp16": lambda x: x.to(torch.float32).to(torch.float16),
        "strided_copy": lambda x: torch.stack((x[..., ::2], x[..., 1::2]), -1).flatten(-2),
        "slice_assign": lambda x: x.index_copy(0, torch.zeros(1, dtype=torch.long, device=x.device), x[:1]),
        "cat": lambda x: torch.cat((x[..., half:], x[..., :half]), -1),
    }


def chain(fn, x, n):
    for _ in range(n):
        x = fn(x)
    return x


def time_graph(fn, x, n, reps):
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        chain(fn, x, n)
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        chain(fn, x, n)
    for _ in range(3):
        g.replay()
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        g.replay()
        b.record()
        b.synchronize()
        ts.append(a.elapsed_time(b) * 1000.0)
    ts.sort()
    kernels = graph_kernels(fn, x)
    del g
    return statistics.median(ts), ts[max(0, len(ts) // 10 - 1)], ts[min(len(ts) - 1, 9 * len(ts) // 10)], kernels


def graph_kernels(fn, x):
    """Kernels one application of fn launches (cast is two), from the profiler."""
    try:
        from torch.profiler import profile, ProfilerActivity
        with profile(activities=[ProfilerActivity.CUDA]) as p:
            fn(x)
            torch.cuda.synchronize()
        return sum(1 for e in p.events() if e.device_type.name == "CUDA" and "Memcpy" not in e.name and "Memset" not in e.name)
    except Exception:
        return -1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--width", type=int, default=4096)
    ap.add_argument("--chain", type=int, default=400)
    ap.add_argument("--reps", type=int, default=30)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    dev = torch.device("cuda")
    table = ops(args.width)
    names = list(table)
    mix = lambda x: chain_mix(x)  # noqa: E731

    def chain_mix(x):
        for name in names:
            x = table[name](x)
        return x

    rows = []
    with torch.no_grad():
        for r in (1, 8, 32, 128):
            x = torch.randn(r, args.width, device=dev, dtype=torch.float16)
            for name, fn, per in [(n, table[n], 1) for n in names] + [("mix", mix, len(names))]:
                n = max(1, args.chain // per)
                med, p10, p90, k = time_graph(fn, x, n, args.reps)
                launches = n * (k if k > 0 else per)
                rows.append(dict(op=name, rows=r, width=args.width, chain=n, kernels=launches,
                                 time_us_median=round(med, 2), time_us_p10=round(p10, 2), time_us_p90=round(p90, 2),
                                 reps=args.reps, us_per_kernel=round(med / launches, 3)))
                print(f"{name:15s} rows={r:4d} kernels={launches:5d} {med:9.1f} us  {med / launches:6.3f} us/kernel", flush=True)
    path = os.path.join(args.out, "torch_small_op.csv")
    write_csv(path, rows)
    meta = dict(tool="torch_small_op_bench.py", gpu=torch.cuda.get_device_name(0), torch=torch.__version__,
                cuda=torch.version.cuda, date_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                note="chains of dependent small PyTorch ops captured in one CUDA graph; us_per_kernel = replay time / kernels")
    write_json(os.path.join(args.out, "torch_small_op.meta.json"), meta)


if __name__ == "__main__":
    main()
