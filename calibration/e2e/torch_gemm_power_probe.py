#!/usr/bin/env python3
"""Does a back-to-back GEMM chain run slower than the same GEMM inside a model step?

The end-to-end profile of a 1 x 512 prefill shows gate_up (512 x 28672 x 4096, F.linear) at
163.5 us per launch; torch_gemm_bench.py's back-to-back chain measures 179.9 us. Suspect: a
sustained chain of compute-bound GEMMs holds the GPU at its power limit and lowers the SM clock.
This probe times the same chain (a) replayed back to back, as the benches do, and (b) with the GPU
idle for a few ms between replays, (b') once after 200 ms idle, and (c) interleaved with the memory-bound elementwise kernels a
layer has, sampling the SM clock with nvidia-smi meanwhile. Output: <out>/gemm_power_probe.csv.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from results_io import write_csv  # noqa: E402
from torch_timing import replay_us  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    dev = torch.device("cuda")
    rows = []
    smi_out = open(os.path.join(args.out, "smi_trace.csv"), "w")
    smi = subprocess.Popen(["nvidia-smi", "--query-gpu=timestamp,clocks.sm,power.draw", "--format=csv,noheader", "-lms", "20"],
                           stdout=smi_out, stderr=subprocess.DEVNULL)
    try:
        measure(dev, rows)
    finally:
        # Never leave the clock logger running on the device.
        smi.terminate()
        smi.wait(timeout=10)
        smi_out.close()
    write_csv(os.path.join(args.out, "gemm_power_probe.csv"), rows)


def measure(dev, rows):
    time.sleep(0.5)
    with torch.no_grad():
        for m, n, k in ((512, 28672, 4096), (512, 22016, 4096), (2048, 28672, 4096), (512, 4096, 14336)):
            ws = [torch.randn(n, k, device=dev, dtype=torch.float16) * 0.02 for _ in range(2)]
            x = torch.randn(m, k, device=dev, dtype=torch.float16)
            y = torch.randn(m, 4096, device=dev, dtype=torch.float16)
            N = 10
            for mode in ("back_to_back", "idle_5ms", "after_idle_200ms", "with_elementwise"):
                g = torch.cuda.CUDAGraph()
                s = torch.cuda.Stream()
                s.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(s):
                    F.linear(x, ws[0])
                    y.mul_(1.0)
                torch.cuda.current_stream().wait_stream(s)
                with torch.cuda.graph(g):
                    for i in range(N):
                        F.linear(x, ws[i % 2])
                        if mode == "with_elementwise":
                            for _ in range(30):
                                y.mul_(1.0)
                # the elementwise-only graph, to subtract
                ge = None
                if mode == "with_elementwise":
                    ge = torch.cuda.CUDAGraph()
                    with torch.cuda.graph(ge):
                        for i in range(N):
                            for _ in range(30):
                                y.mul_(1.0)
                for _ in range(3):
                    g.replay()
                torch.cuda.synchronize()

                ts, te = [], []
                t0 = time.time()
                for _ in range(10 if mode == "after_idle_200ms" else 40):
                    if mode == "after_idle_200ms":
                        time.sleep(0.2)  # one chain from a cool, idle GPU
                    ts.append(replay_us(g))
                    if ge is not None:
                        te.append(replay_us(ge))
                    if mode == "idle_5ms":
                        time.sleep(0.005)
                per = statistics.median(ts) / N
                if te:
                    per = (statistics.median(ts) - statistics.median(te)) / N
                rows.append(dict(m=m, n=n, k=k, mode=mode, us_per_gemm=round(per, 2),
                                 first5_us=round(statistics.median(ts[:5]) / N, 2), last5_us=round(statistics.median(ts[-5:]) / N, 2),
                                 t_start=round(t0, 3), t_end=round(time.time(), 3)))
                print(rows[-1], flush=True)
                del g, ge
            del ws
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
