#!/usr/bin/env python3
"""Why HF continuous batching runs a Mistral-shaped model with a `sliding_window` config slower than a
Llama-shaped one of the same size (issue #14; validation.md, "The Mistral runs take another code path").

For each model variant (llama: Llama-3-8B shape; mistral_full: Mistral-7B shape, sliding_window longer
than any request; mistral_sw256: a 256-token window) and each batch size in --batches, N requests of
--prompt tokens each are added at once with --output new tokens (EOS disabled). Once every request is
decoding, the next --profile forwards run under torch.profiler (CPU + CUDA, on the engine's own thread,
from the start of one forward to the start of the forward after the last, so the host work between
forwards is inside the window). Written per (variant, batch):
  ops_<variant>_b<N>.csv     every profiled op: name, calls, self CPU us, self CUDA us (per forward)
  steps_<variant>_b<N>.csv   forward wall time and period of each decode step (CUDA-synchronized)
and source_<variant>.txt: the transformers source that decides the attention path for that model
(the CB attention-mask builder, the model's mask creation, the paged SDPA), for citation.
--profile 0 times every forward without the profiler (torch.profiler on the engine's background thread
fails after its first window with transformers 5.17: 'Can't disable Kineto profiler when it's not running').
Usage: python3 hf_cb_path_probe.py --out DIR [--batches 10,100] [--prompt 700] [--output 160] [--profile 4]
"""
import argparse, inspect, json, os, sys, time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_cb_serving as cb  # noqa: E402
from results_io import write_csv, write_json  # noqa: E402


def sources(model):
    """Source of the functions on the attention-mask path, best effort (names move between versions)."""
    out = []
    mods = ["transformers.generation.continuous_batching.continuous_api", "transformers.generation.continuous_batching.cache",
            "transformers.masking_utils", "transformers.integrations.sdpa_paged"]
    for name in mods:
        try:
            mod = __import__(name, fromlist=["x"])
            src = inspect.getsource(mod)
            hits = [f"{i + 1}: {line}" for i, line in enumerate(src.splitlines()) if "sliding" in line or "layer_type" in line]
            out.append(f"# {name} ({mod.__file__}): lines mentioning sliding/layer_type\n" + "\n".join(hits))
        except Exception as e:
            out.append(f"# {name}: not importable ({e!r})")
    try:
        out.append(f"# {type(model.model).__name__}.forward\n" + inspect.getsource(type(model.model).forward))
    except Exception as e:
        out.append(f"# model forward: not found ({e!r})")
    return "\n\n".join(out)


class Window:
    """Wraps model.forward on the engine thread: times every forward; once `batch` requests decode
    together (q_tokens == requests == batch) for `settle` forwards, profiles the next `count`."""

    def __init__(self, model, batch, settle, count):
        self.model, self.inner = model, model.forward
        self.batch, self.settle, self.count = batch, settle, count
        self.rows, self.decoding, self.prof, self.profiled, self.last, self.done = [], 0, None, 0, None, False
        model.forward = self.fwd

    def fwd(self, *args, **kw):
        t = time.perf_counter()
        if self.prof is not None and self.profiled == self.count:  # window ends at the start of this forward
            self.prof.__exit__(None, None, None)
            self.done = True
        ids = kw.get("input_ids", args[0] if args else None)
        q = int(ids.shape[-1]) if hasattr(ids, "shape") else -1
        if self.count > 0 and not self.done and self.prof is None and self.decoding >= self.settle:
            self.prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA])
            self.prof.__enter__()
        out = self.inner(*args, **kw)
        torch.cuda.synchronize()
        e = time.perf_counter()
        self.decoding = self.decoding + 1 if q == self.batch else 0
        if self.prof is not None and not self.done:
            self.profiled += 1
        self.rows.append(dict(q_tokens=q, forward_ms=round((e - t) * 1e3, 3),
                              period_ms=round((t - self.last) * 1e3, 3) if self.last else -1,
                              profiled=int(self.prof is not None and not self.done)))
        self.last = t
        return out

    def restore(self):
        self.model.forward = self.inner


def op_rows(prof, forwards):
    rows = []
    for ev in prof.key_averages():
        cuda = getattr(ev, "self_device_time_total", None)
        if cuda is None:
            cuda = getattr(ev, "self_cuda_time_total", 0)
        rows.append(dict(name=ev.key, calls_per_forward=round(ev.count / forwards, 2),
                         self_cpu_us_per_forward=round(ev.self_cpu_time_total / forwards, 1),
                         self_cuda_us_per_forward=round(cuda / forwards, 1)))
    rows.sort(key=lambda r: -(r["self_cpu_us_per_forward"] + r["self_cuda_us_per_forward"]))
    return rows


def variant_model(name):
    from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM
    if name == "llama":
        return LlamaForCausalLM, LlamaConfig(num_hidden_layers=32, tie_word_embeddings=False, torch_dtype="bfloat16", **cb.LLAMA3_8B_SHAPE)
    window = {"mistral_full": 32768, "mistral_sw256": 256}[name]
    return MistralForCausalLM, MistralConfig(num_hidden_layers=32, tie_word_embeddings=False, torch_dtype="bfloat16",
                                             sliding_window=window, **cb.MISTRAL_7B_SHAPE)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--variants", default="llama,mistral_full,mistral_sw256")
    ap.add_argument("--batches", default="10,100")
    ap.add_argument("--prompt", type=int, default=700)
    ap.add_argument("--output", type=int, default=160)
    ap.add_argument("--profile", type=int, default=4)
    ap.add_argument("--deadline-s", type=float, default=120.0)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    import transformers
    from transformers.generation import GenerationConfig
    from transformers.generation.configuration_utils import ContinuousBatchingConfig
    meta = dict(tool="hf_cb_path_probe.py", transformers=transformers.__version__, torch=torch.__version__,
                gpu=torch.cuda.get_device_name(0), date_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                prompt=args.prompt, output=args.output, profiled_forwards=args.profile, runs={})
    for variant in args.variants.split(","):
        cls, cfg = variant_model(variant)
        torch.manual_seed(0)
        with torch.device("cuda"):
            model = cls(cfg).to(torch.bfloat16)
        model.eval()
        with open(os.path.join(args.out, f"source_{variant}.txt"), "w") as f:
            f.write(sources(model))
        gen = GenerationConfig(do_sample=False, max_new_tokens=args.output, eos_token_id=-1, pad_token_id=0)
        manager = model.init_continuous_batching(generation_config=gen, continuous_batching_config=ContinuousBatchingConfig())
        manager.start()
        cb.run(manager, cb.make_requests(4, 99, cfg.vocab_size), 0, 99)  # warm-up
        for b in (int(x) for x in args.batches.split(",")):
            reqs = [dict(id=f"{variant}-{b}-{i}", prompt=[(i * 7919 + j) % cfg.vocab_size for j in range(args.prompt)], output=args.output)
                    for i in range(b)]
            win = Window(model, b, settle=3, count=args.profile)
            t = time.time()
            try:
                for r in reqs:
                    manager.add_request(r["prompt"], request_id=r["id"], max_new_tokens=r["output"])
                got, deadline = 0, time.time() + args.deadline_s
                while got < b:
                    if time.time() > deadline:  # the engine thread died (its log says why): keep what was timed
                        print(f"{variant}_b{b}: {got} of {b} finished within {args.deadline_s} s", flush=True)
                        break
                    res = manager.get_result(timeout=1.0)
                    if res is not None and res.is_finished():
                        got += 1
            finally:
                win.restore()
            key = f"{variant}_b{b}"
            write_csv(os.path.join(args.out, f"steps_{key}.csv"), win.rows)
            dec = sorted(r["forward_ms"] for r in win.rows if r["q_tokens"] == b)
            run = dict(wall_s=round(time.time() - t, 2), decode_forwards=len(dec),
                       decode_forward_ms_p50=dec[len(dec) // 2] if dec else None, profiled=win.done)
            if win.done:
                ops = op_rows(win.prof, args.profile)
                write_csv(os.path.join(args.out, f"ops_{key}.csv"), ops)
                run["top_cpu"] = [r["name"] for r in sorted(ops, key=lambda r: -r["self_cpu_us_per_forward"])[:8]]
                run["top_cuda"] = [r["name"] for r in sorted(ops, key=lambda r: -r["self_cuda_us_per_forward"])[:8]]
            meta["runs"][key] = run
            print(key, json.dumps(run), flush=True)
            write_json(os.path.join(args.out, "meta.json"), meta)
        manager.stop(block=True)
        del manager, model
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
