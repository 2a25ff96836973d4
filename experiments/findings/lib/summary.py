#!/usr/bin/python3
"""Print the numbers the findings' NOTE.md files quote, straight from the CSVs: summary.py FINDINGS_DIR."""
import os, sys
from collections import defaultdict
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import read_csv, step_table

D = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def gains(path, label, methods, tensor=1, value="total_ms", invert=False):
    t = step_table(read_csv(path), label, value)
    what = "method_ms/fp16_ms (penalty)" if invert else "fp16_ms/method_ms (gain)"
    for m in methods:
        for T in sorted({k[1] for k in t}) if tensor is None else [tensor]:
            bs = sorted({k[2] for k in t if k[1] == T}); cs = sorted({k[3] for k in t if k[1] == T})
            print("  %s %s T=%d: %s, rows batch %s, cols context %s" % (label, m, T, what, bs, cs))
            for b in bs:
                r = [t[("fp16", T, b, c)] / t[(m, T, b, c)] for c in cs]
                print("    b=%-3d " % b + " ".join("%5.3f" % (1 / x if invert else x) for x in r))


def ms(path, label, methods, batch):
    t = step_table(read_csv(path), label)
    cs = sorted({k[3] for k in t})
    print("  %s batch %d step ms, contexts %s" % (label, batch, cs))
    for m in methods:
        print("    %-13s " % m + " ".join("%7.2f" % t[(m, 1, batch, c)] for c in cs if (m, 1, batch, c) in t))


def sweep(path, keys, cols):
    a = defaultdict(list)
    for r in read_csv(path):
        a[tuple(r[k] for k in keys)].append(r)
    print("  " + " | ".join(keys) + " || " + " ".join(cols) + "   (mean over repetitions)")
    for k in sorted(a, key=lambda k: [float(x) if x.replace(".", "").isdigit() else x for x in k]):
        v = a[k]
        print("    %-50s " % " | ".join(k) + " ".join("%10.4g" % (sum(float(r[c]) for r in v) / len(v)) for c in cols))


print("# 01 decode gain grid"); f = os.path.join(D, "01-throughput-grid/step_grid.csv")
for lab in ["h200-bundle", "h200-roofline", "a6000-roofline", "h200-bundle-eager"]:
    gains(f, lab, ["kivi-4", "kivi-2", "h2o", "streamingllm"])
print("# 02 fixed batch"); f = os.path.join(D, "02-quant-vs-evict/step_fixed_batch.csv")
for lab in ["h200-bundle", "a100-roofline"]:
    gains(f, lab, ["kivi-4", "kivi-2", "gear-4", "gear-8", "int4", "int8", "fp8", "h2o", "snapkv"])
    ms(f, lab, ["fp16", "kivi-4", "h2o", "streamingllm", "snapkv"], 64)
for s in ["sweep_a100", "sweep_h200"]:
    print("# 02 capacity " + s)
    sweep(os.path.join(D, "02-quant-vs-evict", s, "sweep.csv"), ["workload.prompt_tokens.value", "compression.method"],
          ["kv_capacity_tokens", "batch_mean", "batch_max", "preempt_recompute", "requests_per_s", "tpot_mean_s", "e2e_p50_s"])
print("# 03 prefill"); f = os.path.join(D, "03-prefill-penalty/prefill.csv")
for lab in ["h200-bundle", "h200-roofline", "a6000-roofline"]:
    gains(f, lab, ["kivi-4", "gear-4", "gear-8", "h2o", "snapkv", "streamingllm"], invert=True)
    ms(f, lab, ["fp16", "h2o", "snapkv", "gear-4"], 1)
print("# 04 TP"); f = os.path.join(D, "04-tp-effect/tp.csv")
for lab in ["l3-8b-roofline", "l2-7b-roofline", "l3-70b-roofline", "l3-70b-bundle"]:
    gains(f, lab, ["kivi-4", "kivi-2", "gear-4", "int4", "int8", "h2o"], tensor=None)
for s in ["sweep_sharegpt", "sweep_long"]:
    print("# 05 " + s)
    sweep(os.path.join(D, "05-length-e2e", s, "sweep.csv"),
          ["workload.arrival.rate_per_s", "compression.method", "compression.length_effect"],
          ["output_length_ratio", "requests_per_s", "tpot_mean_s", "e2e_mean_s", "e2e_p50_s", "e2e_p99_s", "ttft_p99_s"])
print("# 05 lengths"); print(open(os.path.join(D, "05-length-e2e/lengths.csv")).read())


def layout(r):
    m = [r["cluster.replicas.%d.compression" % i] for i in range(4)]
    return "all-" + m[0] if len(set(m)) == 1 else ("mixed-4" if "kivi-4" in m else "mixed-sl")


for s in ["sweep_mixed", "sweep_long"]:
    print("# 06 " + s)
    p = os.path.join(D, "06-routing", s, "sweep.csv")
    rows = read_csv(p)
    for r in rows:
        r["layout"] = layout(r)
    a = defaultdict(list)
    for r in rows:
        a[(float(r["workload.arrival.rate_per_s"]), r["cluster.router"], r["layout"])].append(r)
    cols = ["output_length_ratio", "requests_per_s", "e2e_mean_s", "e2e_p50_s", "e2e_p99_s", "preempt_recompute"]
    print("  rate | router | layout || " + " ".join(cols))
    for k in sorted(a):
        print("    %4g %-18s %-17s " % k + " ".join("%9.4g" % (sum(float(r[c]) for r in a[k]) / len(a[k])) for c in cols))
print("# 06 selective")
sweep(os.path.join(D, "06-routing/sweep_selective/sweep.csv"),
      ["workload.arrival.rate_per_s", "cluster.router", "compression.routing.0.min_prompt_tokens"],
      ["output_length_ratio", "e2e_mean_s", "e2e_p50_s", "e2e_p99_s"])
print("# 06 routing by replica"); print(open(os.path.join(D, "06-routing/routing_by_replica.csv")).read())
