#!/usr/bin/env python3
"""Turns the project's own H200 ground truth into `kvsim validate` measured-results CSVs.

  steps_llama-3-8b.csv  one step_ms row per CUDA-graph-replayed PyTorch Llama step, the median of
                        all the nn.Linear-layout runs
                        (calibration/e2e/results/h200/e2e-linear-runs/run*/e2e_llama-3-8b.csv): fp16
                        decode, fp8 KV dequantized before attention (unfused: PyTorch's cast, priced
                        at the cast bandwidth measured separately by torch_cast_bench.py), a
                        512-token StreamingLLM window, and prefill. Keys: the PyTorch
                        implementation's kernels per layer (counted by the profiler in the same
                        run), no CPU overhead (graph replay), the method, and PyTorch's own kernels
                        from its microbenchmarks (`kvsim calibrate overlay` through compare.py,
                        written to overlay/llama-3-8b: GEMMs torch_linear, prefill torch_sdpa, and
                        the small-kernel cost extra_kernel_us).
  serving_hf_cb.csv     serving metrics of HF transformers' continuous batching engine
                        (calibration/e2e/results/h200/hf_cb/requests_<run>.csv) per run, keyed by
                        the kvsim trace of the same request set (written next to it).
  serving_hf_cb_sw256.csv  the same for a Mistral-7B-shaped model whose every layer attends to the
                        last 256 tokens (calibration/e2e/results/h200/hf_cb_sliding256/).
  serving_hf_cb_mistral_h100.csv  Mistral-7B, full attention, on an H100
                        (calibration/e2e/results/h100/hf_cb_mistral/).
  serving_hf_cb_llama_h100.csv  Llama-3-8B, the same request set as serving_hf_cb.csv, on an H100
                        (calibration/e2e/results/h100/hf_cb_llama/).
Prefix caching: HF's CB engine reuses the KV blocks of an earlier prompt with the same prefix when
every layer is full attention (transformers docs/source/en/continuous_batching.md, "Prefix
caching": on by default, "automatically disabled for sliding window models"). Each ground truth
serves one request set run after run in one engine, so from the second run on every full 256-token
block of every prompt is already cached: those runs' traces carry cached_prompt_tokens. Where the
engine's step trace was recorded (steps_<run>.csv) the query tokens it computed are checked to be
exactly prompts minus cached blocks plus outputs (minus the first token of each request, which the
prefill samples); the H200 Llama-3-8B run has no step trace, and its hits are inferred from the same
script and transformers version.
Standard library only. Usage (from the repo root): python3 experiments/validation/make_measured.py [KVSIM]
(KVSIM builds the overlay; default build/release/sim/kvsim).
"""
import csv, glob, json, os, statistics, sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(ROOT, "calibration/e2e"))
import compare  # noqa: E402  the framework overlay and the PyTorch microbenchmark readers
from results_io import write_csv  # noqa: E402  the project's temporary-then-rename writer


def write(path, header, rows):
    write_csv(path, [dict(zip(header, r)) for r in rows], fieldnames=header)


def steps(kvsim):
    runs = sorted(glob.glob(os.path.join(ROOT, "calibration/e2e/results/h200/e2e-linear-runs/run*/e2e_llama-3-8b.csv")))
    framework = os.path.join(ROOT, "calibration/e2e/results/h200")
    # PyTorch's small-kernel cost and its fp8 -> fp16 cast bandwidth (largest measured tensor),
    # microbenchmarks independent of the end-to-end step times.
    extra_us, bw = compare.framework_costs(framework)
    if not runs:
        raise SystemExit("make_measured.py: no run in calibration/e2e/results/h200/e2e-linear-runs/run*/")
    # kvsim calibrate overlay builds it beside the old one and renames it into place (--force).
    overlay_root = os.path.join(HERE, "overlay", "llama-3-8b")
    os.makedirs(os.path.dirname(overlay_root), exist_ok=True)
    if not compare.framework_overlay(kvsim, framework, os.path.join(ROOT, "calibration/data/h200"), "llama-3-8b",
                                     overlay_root):
        raise SystemExit("make_measured.py: PyTorch GEMM/SDPA tables or the llama-3-8b bundle are missing")
    # One row per point, its time the median over the runs (compare.py's reading and kernel count).
    out = []
    for r, phase, per_layer in compare.graph_points(compare.read_runs(runs)):
        method = {"fp16": ("", "", "", ""), "fp8": ("fp8", "false", bw, ""),
                  "window512": ("streamingllm", "", "", "true")}[r["kv"]]
        label = f"{phase}-{r['kv']}"
        out.append([label, "{preset: none}", per_layer, extra_us, *method, phase, r["batch"], r["context"], "step_ms",
                    round(statistics.median(r["runs"]) / 1e3, 4)])
    write(os.path.join(HERE, "steps_llama-3-8b.csv"),
          ["label", "engine.overhead", "cost_model.kernels_per_layer", "cost_model.extra_kernel_us", "compression.method.method",
           "compression.method.fused_dequant", "compression.method.dequant_bandwidth_gbps",
           "compression.method.evict_every_step", "phase", "batch", "context",
           "metric", "value"], out)
    print(f"steps_llama-3-8b.csv: {len(out)} points, median of {len(runs)} runs; overlay bundle in {overlay_root}")


def q(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


HF_BLOCK = 256  # the engine's block (meta.json resolved_engine)


def cached_blocks(prompt):
    """Prompt tokens in full blocks, short of the last token (which a prefill must compute)."""
    return (prompt - 1) // HF_BLOCK * HF_BLOCK


def check_prefix_hits(src, run, reqs, cached):
    """The engine's own step trace must have computed exactly the uncached prompt tokens."""
    path = os.path.join(src, f"steps_{run}.csv")
    if not os.path.exists(path):
        return "no step trace"
    computed = sum(int(r["q_tokens"]) for r in csv.DictReader(open(path)))
    want = sum(int(r["prompt_tokens"]) - c + int(r["output_tokens"]) - 1 for r, c in zip(reqs, cached))
    if computed != want:
        sys.exit(f"{path}: the engine computed {computed} query tokens, the prefix-cache model says {want}")
    return f"step trace: {computed} query tokens, as modelled"


def serving(results="hf_cb", name="hf_cb", gpu="h200", prefix_sharing=True):
    src = os.path.join(ROOT, "calibration/e2e/results", gpu, results)
    out = []
    # The runs in the order the engine served them (meta.json), so "after the first" is known.
    runs = json.load(open(os.path.join(src, "meta.json")))["runs"]
    for i, run in enumerate(runs):
        reqs = list(csv.DictReader(open(os.path.join(src, f"requests_{run}.csv"))))
        trace = f"trace_{name}_{run}.csv"
        # Runs after the first find every full block of their prompts cached (module docstring).
        hits = prefix_sharing and i > 0
        cached = [cached_blocks(int(r["prompt_tokens"])) if hits else 0 for r in reqs]
        print(f"  {name} {run}: prefix hits {'on' if hits else 'off'} ({check_prefix_hits(src, run, reqs, cached)})")
        header = ["arrival_s", "prompt_tokens", "output_tokens"] + (["cached_prompt_tokens"] if hits else [])
        write(os.path.join(HERE, trace), header,
              [[r["arrival_s"], r["prompt_tokens"], r["output_tokens"]] + ([c] if hits else []) for r, c in zip(reqs, cached)])
        ttft = [float(r["ttft_s"]) for r in reqs]
        e2e = [float(r["e2e_s"]) for r in reqs]
        tpot = [(float(r["e2e_s"]) - float(r["ttft_s"])) / (int(r["generated"]) - 1) for r in reqs if int(r["generated"]) > 1]
        out_tokens = sum(int(r["generated"]) for r in reqs)
        end = max(float(r["finish_s"]) for r in reqs)
        metrics = [("output_tokens_per_s", out_tokens / end), ("ttft_mean_s", statistics.mean(ttft)),
                   ("ttft_p50_s", statistics.median(ttft)), ("ttft_p90_s", q(ttft, 0.9)),
                   ("tpot_mean_s", statistics.mean(tpot)), ("tpot_p50_s", statistics.median(tpot)),
                   ("e2e_mean_s", statistics.mean(e2e)), ("e2e_p50_s", statistics.median(e2e)), ("e2e_p90_s", q(e2e, 0.9))]
        for m, v in metrics:
            out.append([run, trace, m, round(v, 6)])
    write(os.path.join(HERE, f"serving_{name}.csv"), ["label", "workload.trace", "metric", "value"], out)
    print(f"serving_{name}.csv: {len(out)} points")


if __name__ == "__main__":
    # The kvsim binary that builds the framework overlay (run.sh passes its own).
    steps(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build/release/sim/kvsim"))
    serving()
    # The windowed (sliding-window 256) Mistral-7B run: a compressed KV under continuous batching.
    # Sliding-window models: HF turns prefix sharing off.
    serving("hf_cb_sliding256", "hf_cb_sw256", prefix_sharing=False)
    # Mistral-7B with a window longer than any request (full attention in effect, but the model
    # declares a window, so prefix sharing is off), served on an H100.
    serving("hf_cb_mistral", "hf_cb_mistral_h100", "h100", prefix_sharing=False)
    # The same engine and request set on the same H200 eight minutes later, with the step trace
    # (2026-11-28; offline and 8 req/s): how much the ground truth itself moves between runs.
    serving("hf_cb_steps", "hf_cb_repeat")
    # The H200 Llama-3-8B run's request set served again on an H100 (2026-12-07).
    serving("hf_cb_llama", "hf_cb_llama_h100", "h100")
