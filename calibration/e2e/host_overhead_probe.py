#!/usr/bin/env python3
"""Host-side costs of eager PyTorch engines, measured so that the host model issue #14 asks for
(not yet in the simulator) needs no guessed constant. Four parts, each written to its own file:

  dispatch.csv     host time per eager PyTorch op on tiny CUDA tensors (add, mul, silu, linear, cat,
                   index_select, softmax, an RMSNorm written as HF writes it, SDPA), issued back to
                   back with one synchronize at the end: the GPU finishes each tiny kernel long
                   before the host issues the next, so wall / ops is the host's dispatch + launch
                   cost. Also one CUDA-graph replay of a 1-kernel graph (the replay's host cost).
  hf_generate.csv  HF transformers `generate` decode steps (eager and sdpa attention): a tiny Llama
                   (hidden 256) at 2 and 8 layers, batch 1 and 8, where the GPU is idle most of the
                   time, so the per-step time is host work; its slope over layers is the host cost
                   per decoder layer and its intercept the per-step cost. The same for a
                   Llama-3-8B-shaped model (random bf16 weights) as a check of the model, never as a
                   fit. Kernels launched per layer and per step come from torch.profiler.
  hf_cb_steps.csv  HF continuous batching (ContinuousBatchingManager) with the tiny Llama at 2 and 8
                   layers and 1..48 concurrent requests: every forward's period (the host work of
                   one engine iteration, see hf_cb_serving.StepTracer), to split host cost into per
                   step, per request, per layer and per layer-and-request terms.
  masked_sdpa.csv  the dense masked SDPA that HF's paged|sdpa path runs over a whole batch
                   (Llama-3-8B heads), query x KV grid, CUDA events: the kernel's achieved FLOP rate.
  hf_paged_sdpa.csv  the whole paged|sdpa attention of one layer (cache write, KV gather, GQA
                   expansion, masked SDPA) over a query x KV grid, graph-replayed (device time) and
                   eager; hf_paged_sdpa_source.txt holds the transformers source it follows.

Usage: python3 host_overhead_probe.py --out DIR [--quick]
"""
import argparse, json, os, statistics, sys, time, traceback

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_cb_serving as cb  # noqa: E402
from results_io import write_csv, write_json  # noqa: E402

DEV = "cuda"


def host_loop_us(fn, n, reps=5):
    """Median over reps of wall time per call of fn, n calls back to back, one sync at the end."""
    for _ in range(min(n, 200)):
        fn()
    torch.cuda.synchronize()
    per = []
    for _ in range(reps):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        torch.cuda.synchronize()
        per.append((time.perf_counter() - t) * 1e6 / n)
    return statistics.median(per), min(per), max(per)


def part_dispatch(n):
    x = torch.randn(1, 64, device=DEV, dtype=torch.bfloat16)
    y = torch.randn(1, 64, device=DEV, dtype=torch.bfloat16)
    w = torch.randn(64, 64, device=DEV, dtype=torch.bfloat16)
    nw = torch.ones(64, device=DEV, dtype=torch.bfloat16)
    idx = torch.zeros(1, dtype=torch.long, device=DEV)
    q = torch.randn(1, 4, 1, 64, device=DEV, dtype=torch.bfloat16)
    kv = torch.randn(1, 4, 16, 64, device=DEV, dtype=torch.bfloat16)

    def rmsnorm():  # transformers' LlamaRMSNorm.forward, op for op
        h = x.to(torch.float32)
        var = h.pow(2).mean(-1, keepdim=True)
        h = h * torch.rsqrt(var + 1e-6)
        return nw * h.to(torch.bfloat16)

    ops = {
        "add": (lambda: x + y, 1),
        "mul": (lambda: x * y, 1),
        "silu": (lambda: F.silu(x), 1),
        "linear": (lambda: F.linear(x, w), 1),
        "cat": (lambda: torch.cat([x, y], dim=-1), 1),
        "index_select": (lambda: x.index_select(0, idx), 1),
        "softmax": (lambda: torch.softmax(x, dim=-1), 1),
        "rmsnorm_hf": (rmsnorm, 6),
        "sdpa": (lambda: F.scaled_dot_product_attention(q, kv, kv), 1),
        "view_transpose": (lambda: x.view(1, 1, 64).transpose(1, 2), 0),
    }
    rows = []
    for name, (fn, kernels) in ops.items():
        med, lo, hi = host_loop_us(fn, n)
        rows.append(dict(op=name, calls=n, kernels_per_call=kernels, us_per_call_median=round(med, 3),
                         us_per_call_min=round(lo, 3), us_per_call_max=round(hi, 3)))
    # Graph replay: the host cost of launching one captured graph.
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            x + y
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        x + y
    med, lo, hi = host_loop_us(g.replay, n)
    rows.append(dict(op="graph_replay_1_kernel", calls=n, kernels_per_call=1, us_per_call_median=round(med, 3),
                     us_per_call_min=round(lo, 3), us_per_call_max=round(hi, 3)))
    return rows


def llama_config(layers, tiny, impl):
    from transformers import LlamaConfig
    if tiny:
        kw = dict(hidden_size=256, intermediate_size=512, num_attention_heads=4, num_key_value_heads=2, head_dim=64,
                  vocab_size=2048, max_position_embeddings=4096)
    else:
        kw = cb.LLAMA3_8B_SHAPE
    cfg = LlamaConfig(num_hidden_layers=layers, tie_word_embeddings=False, **kw)
    cfg._attn_implementation = impl
    return cfg


def make_model(cfg):
    from transformers import LlamaForCausalLM
    torch.manual_seed(0)
    with torch.device(DEV):
        m = LlamaForCausalLM(cfg).to(torch.bfloat16)
    m.eval()
    return m


def generate_s(model, batch, prompt, new):
    ids = torch.randint(0, model.config.vocab_size, (batch, prompt), device=DEV)
    torch.cuda.synchronize()
    t = time.perf_counter()
    with torch.no_grad():
        model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new, min_new_tokens=new,
                       do_sample=False, eos_token_id=None, pad_token_id=0)
    torch.cuda.synchronize()
    return time.perf_counter() - t


def kernels_per_step(model, batch, prompt):
    """CUDA kernels launched by one decode step: (kernels of 9 new tokens - of 1) / 8."""
    from torch.profiler import profile, ProfilerActivity

    def count(new):
        with profile(activities=[ProfilerActivity.CUDA]) as p:
            generate_s(model, batch, prompt, new)
        return sum(1 for e in p.events() if e.device_type == torch.autograd.DeviceType.CUDA)

    return (count(9) - count(1)) / 8.0


def part_generate(quick):
    rows = []
    new = 33 if quick else 129
    grid = [(True, 2), (True, 8)] + [(False, 32)]
    for tiny, layers in grid:
        for impl in ("eager", "sdpa"):
            model = make_model(llama_config(layers, tiny, impl))
            for batch in ((1, 8) if tiny else (1, 16)):
                prompt = 32 if tiny else 128
                generate_s(model, batch, prompt, 4)  # warm-up
                runs = []
                for _ in range(3):
                    runs.append((generate_s(model, batch, prompt, new) - generate_s(model, batch, prompt, 1)) / (new - 1))
                k = kernels_per_step(model, batch, prompt)
                rows.append(dict(model="tiny-llama-h256" if tiny else "llama-3-8b-shape", layers=layers,
                                 attn=getattr(model.config, "_attn_implementation", impl), batch=batch, prompt=prompt,
                                 new_tokens=new, step_ms_median=round(statistics.median(runs) * 1e3, 4),
                                 step_ms_min=round(min(runs) * 1e3, 4), step_ms_max=round(max(runs) * 1e3, 4),
                                 kernels_per_step=round(k, 1)))
                print("generate", rows[-1], flush=True)
            del model
            torch.cuda.empty_cache()
    return rows


def part_cb(quick):
    from transformers.generation import GenerationConfig
    from transformers.generation.configuration_utils import ContinuousBatchingConfig

    rows = []
    for layers in (2, 8):
        model = make_model(llama_config(layers, True, "sdpa"))
        tracer = cb.StepTracer(model)
        gen = GenerationConfig(do_sample=False, max_new_tokens=64, eos_token_id=-1, pad_token_id=0)
        manager = model.init_continuous_batching(generation_config=gen, continuous_batching_config=ContinuousBatchingConfig())
        manager.start()
        cb.run(manager, [dict(id=1000 + i, prompt=[1] * 16, output=8) for i in range(4)], 0, 0)  # warm-up
        for n in ((1, 8, 32) if quick else (1, 4, 16, 48)):
            reqs = [dict(id=10000 * layers + 100 * n + i, prompt=[(7 * i + j) % 2000 + 1 for j in range(16)], output=64)
                    for i in range(n)]
            tracer.start()
            cb.run(manager, reqs, 0, 0)
            for r in tracer.stop():
                rows.append(dict(layers=layers, concurrent=n, **r))
            print("cb", layers, n, len(rows), flush=True)
        manager.stop(block=True)
        del model
        torch.cuda.empty_cache()
    return rows


def part_masked_sdpa(quick):
    rows = []
    heads, d = 32, 128
    grid = [(8, 8192), (64, 32768), (512, 8192), (2048, 16384), (8192, 8192), (8192, 32768)]
    for qn, kn in (grid[:3] if quick else grid):
        q = torch.randn(1, heads, qn, d, device=DEV, dtype=torch.bfloat16)
        k = torch.randn(1, heads, kn, d, device=DEV, dtype=torch.bfloat16)
        v = torch.randn(1, heads, kn, d, device=DEV, dtype=torch.bfloat16)
        mask = torch.ones(1, 1, qn, kn, device=DEV, dtype=torch.bool).tril(diagonal=kn - qn)
        for _ in range(3):
            F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        torch.cuda.synchronize()
        times = []
        for _ in range(10):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            b.record()
            b.synchronize()
            times.append(a.elapsed_time(b) * 1e3)
            time.sleep(0.005)
        med = statistics.median(times)
        flops = 4.0 * heads * d * qn * kn
        rows.append(dict(q_tokens=qn, kv_tokens=kn, heads=heads, head_dim=d, us_median=round(med, 2),
                         us_min=round(min(times), 2), tflops=round(flops / med / 1e6, 2)))
        print("sdpa", rows[-1], flush=True)
        del q, k, v, mask
    return rows


def hf_paged_source():
    """The transformers source this part reproduces, saved next to its numbers (for citation)."""
    import inspect
    out = []
    try:
        import transformers.integrations.sdpa_paged as sp
        out.append("# transformers.integrations.sdpa_paged\n" + inspect.getsource(sp))
    except Exception as e:  # the module moved: say so instead of failing the part
        out.append(f"# transformers.integrations.sdpa_paged: not importable ({e!r})")
    try:
        from transformers.generation.continuous_batching.cache import PagedAttentionCache
        out.append("# PagedAttentionCache.update\n" + inspect.getsource(PagedAttentionCache.update))
    except Exception as e:
        out.append(f"# PagedAttentionCache.update: not found ({e!r})")
    return "\n\n".join(out)


def part_paged_sdpa(quick, out_dir):
    """HF's paged|sdpa attention of one layer as transformers 5.17 runs it (source saved to
    hf_paged_sdpa_source.txt): write the new K/V into the paged cache (index_copy_), gather the
    batch's whole KV (index_select), expand the 8 KV heads to 32 (repeat_kv), one SDPA over the
    batch with an additive bf16 mask. Llama-3-8B heads. Timed two ways: as a CUDA graph replayed
    (device time only) and issued eagerly (device + host issue as the engine pays it)."""
    with open(os.path.join(out_dir, "hf_paged_sdpa_source.txt"), "w") as f:
        f.write(hf_paged_source())
    heads, kv_heads, d = 32, 8, 128
    qs = (1, 16, 256, 2048) if quick else (1, 4, 16, 64, 256, 1024, 4096, 8192)
    kvs = (1024, 16384) if quick else (1024, 4096, 16384, 65536)
    rows = []
    slots = 70000
    cache_k = torch.randn(slots, kv_heads, d, device=DEV, dtype=torch.bfloat16)
    cache_v = torch.randn(slots, kv_heads, d, device=DEV, dtype=torch.bfloat16)
    for kn in kvs:
        for qn in qs:
            if qn > kn:
                continue
            q = torch.randn(1, heads, qn, d, device=DEV, dtype=torch.bfloat16)
            k_new = torch.randn(qn, kv_heads, d, device=DEV, dtype=torch.bfloat16)
            v_new = torch.randn(qn, kv_heads, d, device=DEV, dtype=torch.bfloat16)
            read = torch.randperm(slots, device=DEV)[:kn].sort().values
            write = read[-qn:].clone()
            mask = torch.zeros(1, 1, qn, kn, device=DEV, dtype=torch.bfloat16)
            mask.masked_fill_(torch.ones(qn, kn, device=DEV, dtype=torch.bool).triu(diagonal=kn - qn + 1), torch.finfo(torch.bfloat16).min)

            def layer():
                cache_k.index_copy_(0, write, k_new)
                cache_v.index_copy_(0, write, v_new)
                k = cache_k.index_select(0, read).transpose(0, 1).unsqueeze(0)
                v = cache_v.index_select(0, read).transpose(0, 1).unsqueeze(0)
                k = k[:, :, None].expand(1, kv_heads, heads // kv_heads, kn, d).reshape(1, heads, kn, d)
                v = v[:, :, None].expand(1, kv_heads, heads // kv_heads, kn, d).reshape(1, heads, kn, d)
                return F.scaled_dot_product_attention(q.contiguous(), k.contiguous(), v.contiguous(), attn_mask=mask)

            for _ in range(3):
                layer()
            torch.cuda.synchronize()
            reps = 10
            eager = []
            for _ in range(5):
                a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                a.record()
                for _ in range(reps):
                    layer()
                b.record()
                b.synchronize()
                eager.append(a.elapsed_time(b) * 1e3 / reps)
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                layer()
            torch.cuda.current_stream().wait_stream(s)
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                for _ in range(reps):
                    layer()
            g.replay()
            torch.cuda.synchronize()
            graph = []
            for _ in range(5):
                a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                a.record()
                g.replay()
                b.record()
                b.synchronize()
                graph.append(a.elapsed_time(b) * 1e3 / reps)
            rows.append(dict(q_tokens=qn, kv_tokens=kn, heads=heads, kv_heads=kv_heads, head_dim=d,
                             device_us_median=round(statistics.median(graph), 2), device_us_min=round(min(graph), 2),
                             eager_us_median=round(statistics.median(eager), 2)))
            print("paged_sdpa", rows[-1], flush=True)
            del g, q, k_new, v_new, read, write, mask
            torch.cuda.empty_cache()
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--parts", default="dispatch,generate,cb,sdpa,paged_sdpa")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    import transformers
    meta = dict(tool="host_overhead_probe.py", torch=torch.__version__, cuda=torch.version.cuda,
                transformers=transformers.__version__, gpu=torch.cuda.get_device_name(0),
                cpu=open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(": \t"),
                date_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), quick=args.quick, parts={})
    parts = dict(dispatch=("dispatch.csv", lambda: part_dispatch(2000 if args.quick else 5000)),
                 generate=("hf_generate.csv", lambda: part_generate(args.quick)),
                 cb=("hf_cb_steps.csv", lambda: part_cb(args.quick)),
                 sdpa=("masked_sdpa.csv", lambda: part_masked_sdpa(args.quick)),
                 paged_sdpa=("hf_paged_sdpa.csv", lambda: part_paged_sdpa(args.quick, args.out)))
    for name in args.parts.split(","):
        fname, fn = parts[name]
        t = time.time()
        try:
            rows = fn()
            write_csv(os.path.join(args.out, fname), rows)
            meta["parts"][name] = dict(file=fname, rows=len(rows), seconds=round(time.time() - t, 1))
        except Exception:  # keep the other parts' results
            meta["parts"][name] = dict(error=traceback.format_exc()[-2000:])
            print(traceback.format_exc(), flush=True)
        write_json(os.path.join(args.out, "meta.json"), meta)


if __name__ == "__main__":
    main()
