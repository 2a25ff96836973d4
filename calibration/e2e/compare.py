#!/usr/bin/env python3
"""Compare kvsim's predicted iteration times with the end-to-end PyTorch measurements.

For every row of calibration/e2e/results/<gpu>/e2e_<model>.csv this runs
  kvsim step --model M --gpu G --batch B --context C --phase P --overhead none
             --kernels-per-layer K [--compression '{method: fp8, fused_dequant: false}']
where K is the number of kernels the PyTorch implementation launches per layer (counted by
the torch profiler in the same run: a property of the implementation, not a timing), and
prints measured vs predicted with the relative error. Standard library only.
Usage: calibration/e2e/compare.py [--kvsim build/release/sim/kvsim] [--gpu h200] CSV...
"""
import argparse, csv, json, statistics, subprocess, sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kvsim", default="build/release/sim/kvsim")
    ap.add_argument("--gpu", default="h200")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("csvs", nargs="+")
    a = ap.parse_args()
    rows = []
    for path in a.csvs:
        with open(path) as f:
            rows += list(csv.DictReader(f))
    # Kernels per step of each (model, phase, kv), counted once per file.
    kernels = {}
    for r in rows:
        k = int(r["kernels_eager"])
        if k > 0:
            kernels[(r["model"], r["phase"].replace("_graph", "").replace("_eager", ""), r["kv"])] = k
    out = []
    for r in rows:
        if r["phase"] == "prefill_eager":
            continue  # CPU-bound Python dispatch: compared with an eager overhead model separately
        phase = "prefill" if r["phase"].startswith("prefill") else "decode"
        k = kernels.get((r["model"], phase, r["kv"]), kernels.get((r["model"], phase, "fp16")))
        per_layer = max(1, round((k - 3) / 32))
        cmd = [a.kvsim, "step", "--model", r["model"], "--gpu", a.gpu, "--batch", r["batch"], "--context",
               r["context"], "--phase", phase, "--overhead", "none", "--kernels-per-layer", str(per_layer),
               "--format", "json"]
        if r["kv"] == "fp8":
            cmd += ["--compression", "{method: fp8, fused_dequant: false}"]
        elif r["kv"] == "window512":
            # StreamingLLM's 64 sink + 448 recent tokens, evicted every step.
            cmd += ["--compression", "{method: streamingllm, evict_every_step: true}"]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:  # e.g. a context beyond the model's window (the e2e ran it anyway)
            print(f"skipped {r['model']} {phase} B={r['batch']} C={r['context']}: {res.stderr.strip()}", file=sys.stderr)
            continue
        j = json.loads(res.stdout)
        measured = float(r["time_us_median"]) / 1e3
        predicted = j["total_ms"]
        out.append((r["model"], phase, r["kv"], int(r["batch"]), int(r["context"]), measured, predicted,
                    (predicted - measured) / measured))
    if a.markdown:
        print("| model | phase | KV | batch | context | measured ms | kvsim ms | error |")
        print("|---|---|---|---|---|---|---|---|")
        for m, p, kv, b, c, me, pr, e in out:
            print(f"| {m} | {p} | {kv} | {b} | {c} | {me:.2f} | {pr:.2f} | {e*100:+.1f} % |")
    else:
        for m, p, kv, b, c, me, pr, e in out:
            print(f"{m:12s} {p:7s} {kv:5s} B={b:4d} C={c:6d}  measured {me:9.2f} ms  kvsim {pr:9.2f} ms  {e*100:+6.1f} %")
    print()
    for key in sorted({(o[1], o[2]) for o in out}):
        errs = [abs(o[7]) for o in out if (o[1], o[2]) == key]
        within = sum(e <= 0.10 for e in errs)
        print(f"{key[0]} {key[1]}: median |error| {statistics.median(errs)*100:.1f} %, max {max(errs)*100:.1f} %, "
              f"{within}/{len(errs)} points within 10 %")


if __name__ == "__main__":
    sys.exit(main())
