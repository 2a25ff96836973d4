#!/usr/bin/env python3
"""PyTorch's dtype-cast kernels, the dequantize pass of an unfused compressed-KV implementation
written in PyTorch (torch_llama_e2e.py's fp8 variant runs `cache.to(torch.float16)` per layer).

For each (source dtype, element count): median time of `x.to(torch.float16)` over 20 runs
(CUDA events, after warm-up; a fresh output each time, as the e2e does), and the achieved
bandwidth (bytes read + bytes written) / time. Checked first: the cast of a few known values is
exact. Writes OUT/torch_cast.csv and OUT/torch_cast.meta.json.
Usage: python3 torch_cast_bench.py --out DIR
"""
import argparse, csv, json, os, statistics, time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    dev = torch.device("cuda")
    probe = torch.tensor([0.5, -1.0, 2.0, 448.0], device=dev, dtype=torch.float16)
    for dt in (torch.float8_e4m3fn, torch.int8):
        back = probe.to(dt).to(torch.float16)
        want = probe if dt != torch.int8 else probe.to(torch.int8).to(torch.float16)
        assert torch.equal(back, want), f"cast check failed for {dt}"
    rows = []
    for name, dt in (("fp8_e4m3", torch.float8_e4m3fn), ("int8", torch.int8), ("fp16", torch.float16)):
        for n in (1 << 22, 1 << 24, 1 << 26, 1 << 28):
            x = (torch.randn(n, device=dev, dtype=torch.float16) * 4).to(dt)
            for _ in range(3):
                y = x.to(torch.float16) if dt != torch.float16 else x.clone()
            torch.cuda.synchronize()
            ts = []
            for _ in range(20):
                e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                e0.record()
                y = x.to(torch.float16) if dt != torch.float16 else x.clone()
                e1.record()
                e1.synchronize()
                ts.append(e0.elapsed_time(e1) * 1e3)
            med = statistics.median(ts)
            nbytes = n * (x.element_size() + 2)
            rows.append(dict(src=name, dst="fp16" if dt != torch.float16 else "fp16(copy)", elements=n,
                             bytes_read_written=nbytes, time_us_median=round(med, 2), gbps=round(nbytes / med / 1e3, 1)))
            print(rows[-1], flush=True)
            del x, y
            torch.cuda.empty_cache()
    with open(os.path.join(a.out, "torch_cast.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    with open(os.path.join(a.out, "torch_cast.meta.json"), "w") as f:
        json.dump(dict(tool="torch_cast_bench.py", torch=torch.__version__, cuda=torch.version.cuda,
                       gpu=torch.cuda.get_device_name(0), date_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       timing="CUDA events around one x.to(torch.float16), median of 20 after 3 warm-ups"), f, indent=2)


if __name__ == "__main__":
    main()
