#!/usr/bin/env python3
"""Per-kernel device times of one step of torch_llama_e2e.py's Llama, for diagnosis.

For each (phase, batch, context) it records:
  - the CUDA-graph replay time of the whole step (as torch_llama_e2e.py measures it);
  - every kernel of one eager step from the torch profiler: name, class, device time.
The difference between the graph time and the sum of kernel times is the time between kernels
(launch gaps and ramp), which no single-kernel microbenchmark sees.

Output: <out>/profile_<model>.csv (one row per kernel class per shape) and
<out>/profile_<model>_kernels.csv (every distinct kernel name per shape), plus a meta.json.
This is a diagnosis of where an implementation's time goes. kvsim does not fit anything to it.
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from results_io import write_csv, write_json  # noqa: E402
from torch_llama_e2e import Llama, time_events, summarize  # noqa: E402


def classify(name):
    n = name.lower()
    if "flash" in n or "fmha" in n or "attention" in n or "sdpa" in n or "cudnn" in n and "attn" in n:
        return "attention"
    if "gemm" in n or "gemv" in n or "sm90_xmma" in n or "cutlass" in n or "nvjet" in n or "splitk" in n:
        return "gemm"
    if "rms" in n or "norm" in n:
        return "norm"
    if "reduce" in n or "argmax" in n:
        return "reduce"
    if "copy" in n or "cat" in n or "index" in n or "gather" in n or "scatter" in n:
        return "copy"
    return "elementwise"


def profile_kernels(fn):
    from torch.profiler import profile, ProfilerActivity
    fn()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as p:
        fn()
        torch.cuda.synchronize()
    out = []
    for e in p.events():
        if e.device_type.name != "CUDA" or "Memcpy" in e.name or "Memset" in e.name:
            continue
        out.append((e.name, e.device_time if hasattr(e, "device_time") else e.cuda_time))
    return out


def profile_graph_kernels(g, replays):
    """Kernels of `replays` back-to-back replays of a captured graph, as the e2e timing runs them
    (sustained load, unlike the single eager step), each duration divided by `replays`."""
    from torch.profiler import profile, ProfilerActivity
    g.replay()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as p:
        for _ in range(replays):
            g.replay()
        torch.cuda.synchronize()
    out = []
    for e in p.events():
        if e.device_type.name != "CUDA" or "Memcpy" in e.name or "Memset" in e.name:
            continue
        out.append((e.name, (e.device_time if hasattr(e, "device_time") else e.cuda_time) / replays))
    return out


def capture(fn):
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(2):
            fn()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        fn()
    return g


def graph_time(fn, reps):
    g = capture(fn)
    ts = time_events(g.replay, reps)
    del g
    return summarize(ts)[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="llama-3-8b")
    ap.add_argument("--out", required=True)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--layout", choices=("linear", "matmul"), default="linear",
                    help="weight layout (profile/ was taken with matmul, profile_linear/ with linear)")
    ap.add_argument("--shapes", default=None,
                    help="phase:batch:context,... (default: the ten shapes of profile_linear/)")
    ap.add_argument("--graph", action="store_true",
                    help="take kernel times from back-to-back graph replays (the e2e timing's load) instead of one eager step")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    dev = torch.device("cuda")
    torch.manual_seed(0)
    m = Llama(args.model, dev, args.layout)
    shapes = [("decode", 1, 512), ("decode", 1, 2048), ("decode", 1, 8192), ("decode", 8, 2048),
              ("decode", 32, 2048), ("decode", 128, 512),
              ("prefill", 1, 128), ("prefill", 1, 512), ("prefill", 1, 2048), ("prefill", 1, 8192)]
    if args.shapes:
        try:
            shapes = [(p, int(b), int(c)) for p, b, c in (x.split(":") for x in args.shapes.split(","))]
        except ValueError:
            sys.exit(f"torch_profile_step.py: --shapes {args.shapes!r}: expected phase:batch:context,...")
        if any(p not in ("decode", "prefill") for p, _, _ in shapes):
            sys.exit(f"torch_profile_step.py: --shapes {args.shapes!r}: phase must be decode or prefill")
    by_class, by_kernel = [], []
    for phase, B, C in shapes:
        with torch.no_grad():
            if phase == "decode":
                caches = [(torch.randn(B, m.hkv, C, m.d, device=dev, dtype=torch.float16) * 0.5,
                           torch.randn(B, m.hkv, C, m.d, device=dev, dtype=torch.float16) * 0.5) for _ in range(m.L)]
                tok = torch.randint(0, m.vocab, (B,), device=dev)
                pos = torch.full((B,), C - 1, device=dev, dtype=torch.long)
                fn = lambda: m.decode_step(tok, pos, caches, False)  # noqa: E731
            else:
                toks = torch.randint(0, m.vocab, (B, C), device=dev)
                fn = lambda: m.prefill(toks)  # noqa: E731
            g_us = graph_time(fn, args.reps)
            if args.graph:
                g = capture(fn)
                ks = profile_graph_kernels(g, args.reps)
                del g
            else:
                ks = profile_kernels(fn)
        total = sum(t for _, t in ks)
        # Graph mode profiles --reps replays (times already per replay): a launch counts 1/reps.
        per = 1.0 / args.reps if args.graph else 1.0
        classes = {}
        names = {}
        for name, t in ks:
            c = classify(name)
            n, s = classes.get(c, (0, 0.0))
            classes[c] = (n + per, s + t)
            n, s = names.get(name, (0, 0.0))
            names[name] = (n + per, s + t)
        classes = {c: (round(n), s) for c, (n, s) in classes.items()}
        names = {k: (round(n), s) for k, (n, s) in names.items()}
        launches = round(len(ks) * per)
        for c, (n, s) in sorted(classes.items()):
            by_class.append(dict(model=args.model, phase=phase, batch=B, context=C, graph_us=round(g_us, 2),
                                 kernel_sum_us=round(total, 2), kernels=launches, cls=c, count=n, time_us=round(s, 2)))
        for name, (n, s) in sorted(names.items(), key=lambda kv: -kv[1][1]):
            by_kernel.append(dict(model=args.model, phase=phase, batch=B, context=C, cls=classify(name), count=n,
                                  time_us=round(s, 2), name=name[:200]))
        print(f"{phase} B={B} C={C}: graph {g_us:.1f} us, kernels {launches} sum {total:.1f} us, gaps {g_us - total:.1f} us; "
              + ", ".join(f"{c} {n}x {s:.0f}us" for c, (n, s) in sorted(classes.items())), flush=True)
        del fn
        if phase == "decode":
            del caches
        torch.cuda.empty_cache()
    if not by_kernel:
        sys.exit("torch_profile_step.py: the profiler recorded no kernels")
    for path, rows in ((f"profile_{args.model}.csv", by_class), (f"profile_{args.model}_kernels.csv", by_kernel)):
        write_csv(os.path.join(args.out, path), rows)
    meta = dict(tool="torch_profile_step.py", model=args.model, gpu=torch.cuda.get_device_name(0), torch=torch.__version__,
                cuda=torch.version.cuda, date_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                graph=args.graph,
                note=("kernel times from torch.profiler over --reps back-to-back graph replays, per replay" if args.graph else
                      "kernel times from torch.profiler over one eager step") + "; graph_us = CUDA-graph replay median")
    write_json(os.path.join(args.out, f"profile_{args.model}.meta.json"), meta)


if __name__ == "__main__":
    main()
