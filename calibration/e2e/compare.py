#!/usr/bin/env python3
"""Compare kvsim's predicted iteration times with the end-to-end PyTorch measurements.

For every row of calibration/e2e/results/<gpu>/e2e_<model>.csv this runs
  kvsim step --model M --gpu G --batch B --context C --phase P --overhead none
             --kernels-per-layer K --extra-kernel-us X
             [--compression '{method: fp8, fused_dequant: false, dequant_bandwidth_gbps: BW}']
where K is the number of kernels the PyTorch implementation launches per layer (counted by
the torch profiler in the same run: a property of the implementation, not a timing), X is
PyTorch's cost per small kernel in a CUDA graph and BW its fp8 -> fp16 cast bandwidth, both
from PyTorch microbenchmarks that share nothing with the end-to-end runs
(torch_small_op_bench.py, torch_cast_bench.py; --framework DIR, default
calibration/e2e/results/h200; --no-framework prices everything with kvsim's own kernels).
Several CSVs of the same model (repeated runs) are merged: each point is compared with the
median of its runs, and the spread (max - min) / median of the runs is printed with it.
Exit status 1 with --max-error E when any compared point is off by more than E.
Standard library only.
Usage: calibration/e2e/compare.py [--kvsim build/release/sim/kvsim] [--gpu h200] CSV...
"""
import argparse, csv, json, os, shutil, statistics, subprocess, sys, tempfile


def fail(msg):
    print(f"compare.py: {msg}", file=sys.stderr)
    sys.exit(2)


def framework_costs(folder):
    """(extra kernel us, fp8 cast GB/s) from the PyTorch microbenchmarks in `folder`."""
    small = os.path.join(folder, "torch_small_op", "torch_small_op.csv")
    cast = os.path.join(folder, "torch_cast", "torch_cast.csv")
    for path in (small, cast):
        if not os.path.isfile(path):
            fail(f"{path}: missing (--framework names the folder of PyTorch microbenchmarks; --no-framework skips them)")
    with open(small) as f:
        mix = [r for r in csv.DictReader(f) if r.get("op") == "mix"]
    with open(cast) as f:
        casts = [r for r in csv.DictReader(f) if r.get("src") == "fp8_e4m3"]
    if not mix:
        fail(f"{small}: no 'mix' rows")
    if not casts:
        fail(f"{cast}: no fp8_e4m3 rows")
    # The one-row mix: the floor per small kernel (bigger rows are priced by kvsim's own tables).
    extra_us = float(min(mix, key=lambda r: int(r["rows"]))["us_per_kernel"])
    cast_gbps = float(max(casts, key=lambda r: int(r["elements"]))["gbps"])
    return extra_us, cast_gbps


def framework_overlay(kvsim, folder, bundles, model, out):
    """`kvsim calibrate overlay`: the installed bundle for `model` with PyTorch's own kernels added
    as new variants (prefill SDPA `torch_sdpa` from torch_sdpa_bench.py; GEMMs `torch_linear` and
    `torch_matmul` from torch_gemm_bench.py), written to `out`. None when the bundle or either
    table is missing. The shipped bundle itself is not changed."""
    src = os.path.join(bundles, model)
    sdpa = os.path.join(folder, "torch_sdpa", f"prefill_attention_torch_sdpa_{model}.csv")
    gemm = os.path.join(folder, "torch_gemm", f"gemm_torch_{model}.csv")
    if not all(os.path.isfile(p) for p in (os.path.join(src, "meta.json"), sdpa, gemm)):
        return None
    res = subprocess.run([kvsim, "calibrate", "overlay", src, "--out", out, "--force", "--gemm", gemm,
                          "--prefill-attention", sdpa], capture_output=True, text=True)
    if res.returncode != 0:
        fail(f"kvsim calibrate overlay {src}: {res.stderr.strip() or res.stdout.strip()}")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kvsim", default="build/release/sim/kvsim")
    ap.add_argument("--gpu", default="h200")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--framework", default=None, help="PyTorch microbenchmarks (default calibration/e2e/results/<gpu>)")
    ap.add_argument("--no-framework", action="store_true")
    ap.add_argument("--max-error", type=float, default=None,
                    help="exit 1 if any compared point is off by more than this fraction (0.10 = 10 %%)")
    ap.add_argument("--bundles", default=None, help="installed bundles, <dir>/<model> (default calibration/data/<gpu>)")
    ap.add_argument("csvs", nargs="+")
    a = ap.parse_args()
    a.framework = a.framework or f"calibration/e2e/results/{a.gpu}"
    a.bundles = a.bundles or f"calibration/data/{a.gpu}"
    extra_us, cast_gbps = (0.0, 0.0) if a.no_framework else framework_costs(a.framework)
    if not a.no_framework:
        print(f"PyTorch microbenchmarks: {extra_us} us per small kernel, fp8 cast {cast_gbps} GB/s, "
              "prefill attention and GEMMs from its own tables", file=sys.stderr)
    tmp = tempfile.mkdtemp(prefix="kvsim-compare-")
    try:
        return compare(a, extra_us, cast_gbps, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def read_runs(paths):
    """The rows of one or more e2e CSVs, repeated runs merged: one row per point (model, phase,
    KV, batch, context, weight layout), with `runs` the per-run medians (us) and `layout` set."""
    raw = []
    for path in paths:
        if not os.path.isfile(path):
            fail(f"{path}: no such file")
        # The weight layout of the run: a `layout` column (runs since it exists), else the
        # meta.json's `layout`, else x @ W (the meta.json of runs written before the option
        # existed has no such key). No meta.json at all: refuse to guess.
        meta = path[:-4] + ".meta.json"
        with open(path) as f:
            rows_in = list(csv.DictReader(f))
        if rows_in and "layout" in rows_in[0]:
            raw += rows_in
            continue
        if not os.path.isfile(meta):
            fail(f"{path}: no layout column and no {os.path.basename(meta)} beside it; the weight layout decides "
                 "which PyTorch GEMM table applies")
        with open(meta) as f:
            layout = json.load(f).get("layout", "matmul")
        raw += [dict(r, layout=layout) for r in rows_in]
    # Merge repeated runs: one row per point, its time the median over runs.
    merged, order = {}, []
    for r in raw:
        key = (r["model"], r["phase"], r["kv"], r["batch"], r["context"], r["layout"])
        if key not in merged:
            merged[key] = dict(r, runs=[])
            order.append(key)
        merged[key]["runs"].append(float(r["time_us_median"]))
        if int(r["kernels_eager"]) > 0:
            merged[key]["kernels_eager"] = r["kernels_eager"]
    return [merged[k] for k in order]


def graph_points(rows):
    """(row, phase, kernels per layer) for each graph-replayed point of read_runs' rows. The
    kernels per step of each (model, phase, KV) were counted by the profiler once per file;
    K = round((kernels - 3) / 32): the 3 outside the layers (embedding, LM head, sampling), 32
    layers. The window variant has no count of its own and uses fp16's."""
    kernels = {}
    for r in rows:
        k = int(r["kernels_eager"])
        if k > 0:
            kernels[(r["model"], r["phase"].replace("_graph", "").replace("_eager", ""), r["kv"])] = k
    for r in rows:
        if r["phase"] == "prefill_eager":
            continue  # CPU-bound Python dispatch, not compared
        phase = "prefill" if r["phase"].startswith("prefill") else "decode"
        k = kernels.get((r["model"], phase, r["kv"]), kernels.get((r["model"], phase, "fp16")))
        yield r, phase, max(1, round((k - 3) / 32))


def compare(a, extra_us, cast_gbps, tmp):
    overlays = {}
    out = []
    for r, phase, per_layer in graph_points(read_runs(a.csvs)):
        cmd = [a.kvsim, "step", "--model", r["model"], "--gpu", a.gpu, "--batch", r["batch"], "--context",
               r["context"], "--phase", phase, "--overhead", "none", "--kernels-per-layer", str(per_layer),
               "--format", "json"]
        if extra_us > 0:
            cmd += ["--extra-kernel-us", str(extra_us)]
        if not a.no_framework:
            if r["model"] not in overlays:
                overlays[r["model"]] = framework_overlay(a.kvsim, a.framework, a.bundles, r["model"],
                                                         os.path.join(tmp, r["model"]))
            if overlays[r["model"]]:
                cmd += ["--calibration", overlays[r["model"]], "--prefill-kernel", "torch_sdpa",
                        "--gemm-variant", "torch_" + r["layout"]]
        if r["kv"] == "fp8":
            bw = f", dequant_bandwidth_gbps: {cast_gbps}" if cast_gbps > 0 else ""
            cmd += ["--compression", "{method: fp8, fused_dequant: false" + bw + "}"]
        elif r["kv"] == "window512":
            # StreamingLLM's 64 sink + 448 recent tokens, evicted every step.
            cmd += ["--compression", "{method: streamingllm, evict_every_step: true}"]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:  # e.g. a context beyond the model's window (the e2e ran it anyway)
            print(f"skipped {r['model']} {phase} B={r['batch']} C={r['context']}: {res.stderr.strip()}", file=sys.stderr)
            continue
        j = json.loads(res.stdout)
        runs = r["runs"]
        measured = statistics.median(runs) / 1e3
        spread = (max(runs) - min(runs)) / statistics.median(runs)
        predicted = j["total_ms"]
        out.append((r["model"], phase, r["kv"], int(r["batch"]), int(r["context"]), measured, predicted,
                    (predicted - measured) / measured, len(runs), spread))
    if a.markdown:
        print("| model | phase | KV | batch | context | runs | measured ms (median) | run spread | kvsim ms | error |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for m, p, kv, b, c, me, pr, e, n, sp in out:
            print(f"| {m} | {p} | {kv} | {b} | {c} | {n} | {me:.2f} | {sp*100:.1f} % | {pr:.2f} | {e*100:+.1f} % |")
    else:
        for m, p, kv, b, c, me, pr, e, n, sp in out:
            print(f"{m:12s} {p:7s} {kv:9s} B={b:4d} C={c:6d}  measured {me:9.2f} ms ({n} runs, spread {sp*100:4.1f} %)"
                  f"  kvsim {pr:9.2f} ms  {e*100:+6.1f} %")
    print()
    for key in sorted({(o[1], o[2]) for o in out}):
        errs = [abs(o[7]) for o in out if (o[1], o[2]) == key]
        within = sum(e <= 0.10 for e in errs)
        print(f"{key[0]} {key[1]}: median |error| {statistics.median(errs)*100:.1f} %, max {max(errs)*100:.1f} %, "
              f"{within}/{len(errs)} points within 10 %")
    if not out:
        fail("no point could be compared (every kvsim step failed; see the messages above)")
    worst = max(abs(o[7]) for o in out)
    print(f"all: {len(out)} points, median |error| {statistics.median(abs(o[7]) for o in out)*100:.1f} %, "
          f"max {worst*100:.1f} %, {sum(abs(o[7]) <= 0.10 for o in out)}/{len(out)} within 10 %")
    if a.max_error is not None and worst > a.max_error:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
