#!/usr/bin/env python3
"""PyTorch's causal prefill attention (F.scaled_dot_product_attention), timed alone.

kvsim-calibrate measures its own FA2-class prefill kernel. A framework may dispatch to a faster
one: on the H200, PyTorch 2.11 runs cuDNN's sm90 (wgmma) flash kernel, which a per-kernel profile
of the end-to-end Llama showed at 37 ms for a 1 x 8192 prompt (32 layers) where kvsim's kernel
takes 66 ms. This script times SDPA over the same (new tokens, cached tokens) grid as the bundle's
prefill_attention family and writes rows in that table's schema with variant `torch_sdpa`, so a
bundle overlay can price prefill attention with the framework's kernel
(`cost_model.prefill_kernel: torch_sdpa`; calibration/e2e/compare.py builds the overlay).

Rows with cached tokens (C > 0) pass a lower-right causal mask (causal_lower_right), and PyTorch
runs those on a different kernel from the C = 0 rows (is_causal=True, cuDNN's flash kernel): in the
2026-11-29 data, P = 8192 takes 1039 us at C = 0 and 1974 us at C = 512. The table therefore mixes
two kernels along cached tokens; the end-to-end comparison uses only C = 0. Each row now records
the kernel that ran (`kernel`, from the profiler), so a future table can be split by kernel; the
2026-11-29 data predates that column.

It shares nothing with torch_llama_e2e.py's timings: no model, separate random tensors, one
kernel launched N times in a CUDA graph, timed with CUDA events, median per launch, like
kvsim-calibrate (torch_timing.py). The first version timed single eager calls, which measured
the host's dispatch instead of the GPU at small prompts (42.8 us at 128 new tokens, where the
end-to-end profile shows the kernel at 5.8 us); its results were discarded.

Output: <out>/prefill_attention_torch_sdpa_<shape>.csv and a .meta.json.
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from results_io import write_csv, write_json  # noqa: E402
from torch_timing import time_graph_per_launch  # noqa: E402

# q heads, kv heads per GPU (head_dim 128), as kvsim-calibrate's --model-shape.
SHAPES = {"llama-2-7b": (32, 32), "llama-3-8b": (32, 8), "llama-3-70b-tp4": (16, 2), "llama-3-70b-tp8": (8, 1)}


def main_kernel(fn):
    """Name of the longest GPU kernel one call launches (which SDPA backend ran), or ''."""
    try:
        from torch.profiler import profile, ProfilerActivity
        with profile(activities=[ProfilerActivity.CUDA]) as p:
            fn()
            torch.cuda.synchronize()
        ks = [(e.device_time if hasattr(e, "device_time") else e.cuda_time, e.name) for e in p.events()
              if e.device_type.name == "CUDA" and "Memcpy" not in e.name and "Memset" not in e.name]
        return max(ks)[1][:120].replace(",", ";") if ks else ""
    except Exception:
        return ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--shape", default="llama-3-8b", choices=sorted(SHAPES))
    ap.add_argument("--reps", type=int, default=30)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    qh, kvh = SHAPES[args.shape]
    d = 128
    dev = torch.device("cuda")
    from torch.nn.attention.bias import causal_lower_right
    rows = []
    for P in (128, 256, 512, 1024, 2048, 4096, 8192):
        for C in (0, 512, 2048, 4096, 8192):
            T = P + C
            q = torch.randn(1, qh, P, d, device=dev, dtype=torch.float16)
            k = torch.randn(1, kvh, T, d, device=dev, dtype=torch.float16)
            v = torch.randn(1, kvh, T, d, device=dev, dtype=torch.float16)
            gqa = dict(enable_gqa=True) if kvh != qh else {}
            if C == 0:
                fn = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True, **gqa)  # noqa: E731
            else:
                # The new tokens are the last P of T: causal aligned to the bottom right.
                mask = causal_lower_right(P, T)
                fn = lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask, **gqa)  # noqa: E731
            with torch.no_grad():
                med, p10, p90, launches = time_graph_per_launch([fn], args.reps)
                kernel = main_kernel(fn)
            # Useful FLOPs: QK^T and PV over the causal pairs (C + (P + 1) / 2 keys per query).
            flops = 4.0 * qh * d * P * (C + (P + 1) / 2)
            rows.append(dict(variant="torch_sdpa", new_tokens=P, cached_tokens=C, num_q_heads=qh, num_kv_heads=kvh,
                             head_dim=d, time_us_median=round(med, 3), time_us_p10=round(p10, 3),
                             time_us_p90=round(p90, 3), reps=args.reps,
                             tflops=round(flops / (med * 1e-6) / 1e12, 2), score_buffer_bytes=0, kernel=kernel))
            print(f"sdpa {args.shape} P={P:5d} C={C:5d} {med:10.2f} us {rows[-1]['tflops']:7.1f} TFLOP/s", flush=True)
            del q, k, v
    path = os.path.join(args.out, f"prefill_attention_torch_sdpa_{args.shape}.csv")
    write_csv(path, rows)
    meta = dict(tool="torch_sdpa_bench.py", shape=args.shape, gpu=torch.cuda.get_device_name(0), torch=torch.__version__,
                cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
                date_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                note="F.scaled_dot_product_attention fp16, batch 1, causal (lower-right with cached tokens); graph-replayed chain, median per launch")
    write_json(path.replace(".csv", ".meta.json"), meta)


if __name__ == "__main__":
    main()
