#!/usr/bin/env python3
"""Serving-level ground truth for kvsim: Hugging Face transformers' continuous batching engine
(ContinuousBatchingManager, which switches the model to paged SDPA attention) serving a request set on one GPU.

A Llama-3-8B-shaped LlamaForCausalLM with random bf16 weights (timing does not depend on weight
values; EOS is disabled so each request generates exactly its max_new_tokens). For each run:
  * the request set: prompt lengths uniform in [64, 1024], output lengths uniform in [16, 256],
    random token ids, fixed seed; arrivals Poisson at --rates (req/s) or all at once ("offline");
  * requests are added to a running manager at their arrival times (wall clock), with
    record_timestamps=True; TTFT = first token timestamp - add time, E2E = last - add time;
  * written: trace_<label>.csv (the request set as a kvsim trace: arrival_s, prompt_tokens,
    output_tokens), requests_<label>.csv (per-request measured times), and meta.json (versions,
    the engine's resolved KV blocks, block size, token budget, CUDA-graph use).
With --trace-steps, every forward pass of the model is also timed (synchronized at its end)
and written to steps_<label>.csv: start, forward time, the period since the previous forward
start, query tokens, and the KV tokens read when the engine passes cu_seq_lens_k.
Usage: python3 hf_cb_serving.py --out DIR [--requests 200] [--rates 4,8,16] [--offline] [--trace-steps]
"""
import argparse, json, os, random, sys, threading, time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from results_io import write_csv, write_json  # noqa: E402


# Llama-3-8B's shape (LlamaConfig keywords, layers aside); host_overhead_probe.py uses it too.
LLAMA3_8B_SHAPE = dict(hidden_size=4096, intermediate_size=14336, num_attention_heads=32, num_key_value_heads=8,
                       head_dim=128, vocab_size=128256, max_position_embeddings=8192, rope_theta=500000.0)
# Mistral-7B's shape (MistralConfig keywords), for the sliding-window (windowed KV) runs: every
# layer attends to the last `sliding_window` tokens only, so the paged cache can drop older pages.
MISTRAL_7B_SHAPE = dict(hidden_size=4096, intermediate_size=14336, num_attention_heads=32, num_key_value_heads=8,
                        head_dim=128, vocab_size=32000, max_position_embeddings=32768, rope_theta=1000000.0)


def resolved_engine(manager):
    """Best-effort: the engine's resolved cache and batching parameters (names vary by version)."""
    out = {}
    bp = getattr(manager, "batch_processor", None)
    cache = getattr(bp, "cache", None) if bp is not None else None
    for obj, prefix in ((cache, "cache."), (bp, "processor."), (getattr(manager, "continuous_batching_config", None), "config."),
                        (getattr(manager, "cb_config", None), "config.")):
        if obj is None:
            continue
        for k in ("num_blocks", "block_size", "max_batch_tokens", "max_requests_per_batch", "use_cuda_graph",
                  "use_async_batching", "num_groups", "max_memory_percent", "scheduler_type"):
            if hasattr(obj, k):
                v = getattr(obj, k)
                out[prefix + k] = v if isinstance(v, (int, float, str, bool, type(None))) else str(v)
    return out


class StepTracer:
    """Wraps model.forward: wall time of each forward (CUDA-synchronized), the period between
    forward starts (which includes the engine's host work), query and KV token counts."""

    def __init__(self, model):
        self.model, self.rows, self.on = model, [], False
        self.inner = model.forward
        self.last = None

        def fwd(*args, **kw):
            if not self.on:
                return self.inner(*args, **kw)
            t = time.perf_counter()
            out = self.inner(*args, **kw)
            torch.cuda.synchronize()
            e = time.perf_counter()
            ids = kw.get("input_ids", args[0] if args else None)
            q = int(ids.shape[-1]) if hasattr(ids, "shape") else -1
            ck = kw.get("cu_seq_lens_k")
            by_type = ""
            if isinstance(ck, dict):  # per layer type in some versions (full / sliding attention)
                by_type = ";".join(f"{k}={int(v[-1])}" for k, v in ck.items() if hasattr(v, "shape") and v.numel() > 0)
                ck = next(iter(ck.values()), None)
            kv = int(ck[-1]) if hasattr(ck, "shape") and ck.numel() > 0 else -1
            cq = kw.get("cu_seq_lens_q")
            if isinstance(cq, dict):
                cq = next(iter(cq.values()), None)
            nreq = int(cq.numel() - 1) if hasattr(cq, "numel") else -1
            self.rows.append(dict(start_s=round(t - self.t0, 6), forward_ms=round((e - t) * 1e3, 3),
                                  period_ms=round((t - self.last) * 1e3, 3) if self.last else -1,
                                  q_tokens=q, kv_tokens=kv, requests=nreq, kv_by_type=by_type))
            self.last = t
            return out

        model.forward = fwd

    def start(self):
        self.rows, self.last, self.on, self.t0 = [], None, True, time.perf_counter()

    def stop(self):
        self.on = False
        return self.rows


def make_requests(n, seed, vocab):
    rng = random.Random(seed)
    reqs = []
    for i in range(n):
        p = rng.randint(64, 1024)
        o = rng.randint(16, 256)
        reqs.append(dict(id=i, prompt=[rng.randrange(vocab) for _ in range(p)], output=o))
    return reqs


def run(manager, reqs, rate, seed):
    rng = random.Random(seed + 1)
    t = 0.0
    arrivals = []
    for _ in reqs:
        arrivals.append(t)
        if rate > 0:
            t += rng.expovariate(rate)
    added = {}
    t0 = time.perf_counter()

    def feeder():
        for r, a in zip(reqs, arrivals):
            delay = t0 + a - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            added[str(r["id"])] = time.perf_counter()
            manager.add_request(r["prompt"], request_id=str(r["id"]), max_new_tokens=r["output"], record_timestamps=True)

    th = threading.Thread(target=feeder)
    th.start()
    results = {}
    while len(results) < len(reqs):
        res = manager.get_result(timeout=1.0)
        if res is None:
            continue
        if res.is_finished():
            results[res.request_id] = res
    th.join()
    rows = []
    for r, a in zip(reqs, arrivals):
        res = results[str(r["id"])]
        ts = res.timestamps or []
        add = added[str(r["id"])]
        rows.append(dict(id=r["id"], arrival_s=round(a, 6), add_s=round(add - t0, 6), prompt_tokens=len(r["prompt"]),
                         output_tokens=r["output"], generated=len(res.generated_tokens),
                         first_token_s=round(ts[0] - t0, 6) if ts else -1, finish_s=round(ts[-1] - t0, 6) if ts else -1,
                         ttft_s=round(ts[0] - add, 6) if ts else -1, e2e_s=round(ts[-1] - add, 6) if ts else -1,
                         error=res.error or ""))
    return rows, arrivals


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--rates", default="4,8,16")
    ap.add_argument("--offline", action="store_true", help="also run every request at t=0")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--trace-steps", action="store_true")
    ap.add_argument("--sliding-window", type=int, default=0,
                    help="serve a Mistral-7B-shaped model whose layers all attend to this many recent tokens")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    from transformers import LlamaConfig, LlamaForCausalLM
    from transformers.generation import GenerationConfig
    from transformers.generation.configuration_utils import ContinuousBatchingConfig
    import transformers

    if args.sliding_window > 0:
        from transformers import MistralConfig, MistralForCausalLM
        cfg = MistralConfig(num_hidden_layers=32, tie_word_embeddings=False, torch_dtype="bfloat16",
                            sliding_window=args.sliding_window, **MISTRAL_7B_SHAPE)
        model_cls, shape_name = MistralForCausalLM, f"mistral-7b, sliding_window {args.sliding_window} (random bf16 weights)"
    else:
        cfg = LlamaConfig(num_hidden_layers=32, tie_word_embeddings=False, torch_dtype="bfloat16", **LLAMA3_8B_SHAPE)
        model_cls, shape_name = LlamaForCausalLM, "llama-3-8b (random bf16 weights)"
    t_init = time.time()
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = model_cls(cfg).to(torch.bfloat16)
    model.eval()
    init_s = time.time() - t_init
    tracer = StepTracer(model) if args.trace_steps else None
    gen = GenerationConfig(do_sample=False, max_new_tokens=256, eos_token_id=-1, pad_token_id=0)
    cb = ContinuousBatchingConfig()
    manager = model.init_continuous_batching(generation_config=gen, continuous_batching_config=cb)
    manager.start()
    reqs = make_requests(args.requests, args.seed, cfg.vocab_size)
    # Warm-up (graph capture, allocator): a few requests, not measured.
    warm, _ = run(manager, make_requests(8, args.seed + 100, cfg.vocab_size), 0, args.seed)
    labels = []
    runs = [(float(r), f"rate{r}") for r in args.rates.split(",") if r]
    if args.offline:
        runs.insert(0, (0.0, "offline"))
    summary = {}
    for rate, label in runs:
        t = time.time()
        if tracer:
            tracer.start()
        rows, arrivals = run(manager, reqs, rate, args.seed)
        wall = time.time() - t
        if tracer:
            steps = tracer.stop()
            if steps:
                write_csv(os.path.join(args.out, f"steps_{label}.csv"), steps)
        write_csv(os.path.join(args.out, f"requests_{label}.csv"), rows)
        write_csv(os.path.join(args.out, f"trace_{label}.csv"),
                  [dict(arrival_s=r["arrival_s"], prompt_tokens=r["prompt_tokens"], output_tokens=r["output_tokens"]) for r in rows])
        ttft = sorted(r["ttft_s"] for r in rows)
        e2e = sorted(r["e2e_s"] for r in rows)
        summary[label] = dict(rate=rate, wall_s=round(wall, 3), ttft_p50=ttft[len(ttft) // 2], e2e_p50=e2e[len(e2e) // 2],
                              errors=sum(1 for r in rows if r["error"]))
        print(label, summary[label], flush=True)
        labels.append(label)
    engine = resolved_engine(manager)
    manager.stop(block=True)
    meta = dict(tool="hf_cb_serving.py", engine="transformers ContinuousBatchingManager (FIFO scheduler, sdpa_paged)",
                transformers=transformers.__version__, torch=torch.__version__, cuda=torch.version.cuda,
                gpu=torch.cuda.get_device_name(0), date_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                model_shape=shape_name, layer_types=str(getattr(cfg, "layer_types", None)),
                sliding_window=getattr(cfg, "sliding_window", None), requests=args.requests, seed=args.seed,
                lengths="prompt uniform [64, 1024], output uniform [16, 256], EOS disabled", runs=labels,
                resolved_engine=engine, init_s=round(init_s, 2), summary=summary)
    write_json(os.path.join(args.out, "meta.json"), meta)
    print(json.dumps(engine, indent=1))


if __name__ == "__main__":
    main()
