#!/usr/bin/env python3
"""End-to-end ground truth for kvsim, independent of the calibration microbenchmarks.

A minimal Llama forward in plain PyTorch (random fp16 weights; timing does not depend on
weight values): cuBLAS GEMMs through F.linear on [out, in] weights (--layout linear, the default,
as nn.Linear / HF / vLLM store them) or x @ W on [in, out] weights (--layout matmul, the older
runs), attention through torch.nn.functional.scaled_dot_product_attention, RMSNorm / rotary /
SiLU as torch ops.
  * decode: one token per sequence over a contiguous KV cache of `context` tokens, captured
    in a CUDA graph and replayed (no CPU overhead): fp16 KV, fp8 (e4m3) KV dequantized to fp16
    before attention (an unfused compressed-KV implementation), and a 512-token window;
  * prefill: `batch` prompts of `prompt` tokens, causal SDPA, both eager (as HF runs it) and
    graph-replayed.
Each row records the SM clock, temperature and power right after it. Writes CSVs to --out and
prints a table. Usage:
  python3 torch_llama_e2e.py --model llama-3-8b --out DIR [--quick] [--layout linear|matmul]
"""
import argparse, os, statistics, subprocess, sys, time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from results_io import write_csv, write_json  # noqa: E402

SHAPES = {
    # layers, hidden, q heads, kv heads, head_dim, ffn, vocab
    "llama-2-7b": (32, 4096, 32, 32, 128, 11008, 32000),
    "llama-3-8b": (32, 4096, 32, 8, 128, 14336, 128256),
}


class Llama:
    def __init__(self, name, dev, layout="linear"):
        # layout "linear": weights stored [out, in] and applied as x @ W^T (F.linear), as
        # nn.Linear, HF and vLLM store them, and as kvsim-calibrate's GEMMs are measured.
        # "matmul": stored [in, out] and applied as x @ W (runs 1 and 2 of 2026-11-28/29); cuBLAS
        # then picks other kernels (at 128 rows a 448x64 tile, about 20 % slower).
        self.layout = layout
        L, h, hq, hkv, d, ffn, vocab = SHAPES[name]
        self.L, self.h, self.hq, self.hkv, self.d, self.ffn, self.vocab = L, h, hq, hkv, d, ffn, vocab
        g = torch.Generator(device=dev).manual_seed(0)
        def w(i, o):
            shape = (o, i) if layout == "linear" else (i, o)
            return (torch.randn(*shape, device=dev, dtype=torch.float16, generator=g) * 0.02)
        self.embed = (torch.randn(vocab, h, device=dev, dtype=torch.float16, generator=g) * 0.02)
        self.layers = []
        for _ in range(L):
            self.layers.append(dict(
                ln1=torch.ones(h, device=dev, dtype=torch.float16),
                wqkv=w(h, (hq + 2 * hkv) * d), wo=w(hq * d, h),
                ln2=torch.ones(h, device=dev, dtype=torch.float16),
                wgu=w(h, 2 * ffn), wd=w(ffn, h)))
        self.norm = torch.ones(h, device=dev, dtype=torch.float16)
        self.lm_head = w(h, vocab)
        inv = 1.0 / (500000.0 ** (torch.arange(0, d, 2, device=dev, dtype=torch.float32) / d))
        self.inv_freq = inv

    def mm(self, x, wt):
        return F.linear(x, wt) if self.layout == "linear" else x @ wt

    @staticmethod
    def rms(x, wt):
        if hasattr(F, "rms_norm"):  # one fused kernel in recent PyTorch
            return F.rms_norm(x, (x.shape[-1],), wt, 1e-5)
        v = x.float().pow(2).mean(-1, keepdim=True)
        return (x.float() * torch.rsqrt(v + 1e-5)).to(x.dtype) * wt

    def rope(self, x, pos):
        # x: [B, H, T, d]; pos: [T] or [B, 1]
        f = pos.float().unsqueeze(-1) * self.inv_freq  # [T, d/2] or [B, 1, d/2]
        cos, sin = f.cos().to(x.dtype), f.sin().to(x.dtype)
        if pos.dim() == 1:  # prefill: positions along T, shared by the batch
            cos, sin = cos[None, None], sin[None, None]
        else:               # decode: one position per sequence
            cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        x1, x2 = x[..., ::2], x[..., 1::2]
        return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), -1).flatten(-2)

    def layer_mlp(self, x, lw):
        y = self.rms(x, lw["ln2"])
        gu = self.mm(y, lw["wgu"])
        gte, up = gu.split(self.ffn, -1)
        return x + self.mm(F.silu(gte) * up, lw["wd"])

    def decode_step(self, tok, pos, caches, kv_fp8):
        """tok [B], pos [B] (all equal here), caches: list of (K, V, scale) [B, hkv, C, d]."""
        B = tok.shape[0]
        x = self.embed[tok].unsqueeze(1)  # [B, 1, h]
        for lw, (kc, vc) in zip(self.layers, caches):
            y = self.rms(x, lw["ln1"])
            qkv = self.mm(y, lw["wqkv"]).view(B, 1, self.hq + 2 * self.hkv, self.d).transpose(1, 2)
            q, k, v = qkv.split([self.hq, self.hkv, self.hkv], 1)
            q = self.rope(q, pos.view(B, 1))
            k = self.rope(k, pos.view(B, 1))
            # write the new token into the last slot, then attend over the whole cache
            if kv_fp8:
                kc[:, :, -1:].copy_(k.to(torch.float8_e4m3fn))
                vc[:, :, -1:].copy_(v.to(torch.float8_e4m3fn))
                kk, vv = kc.to(torch.float16), vc.to(torch.float16)  # unfused dequantize pass
            else:
                kc[:, :, -1:].copy_(k)
                vc[:, :, -1:].copy_(v)
                kk, vv = kc, vc
            if self.hkv != self.hq:
                o = F.scaled_dot_product_attention(q, kk, vv, enable_gqa=True)
            else:
                o = F.scaled_dot_product_attention(q, kk, vv)
            x = x + self.mm(o.transpose(1, 2).reshape(B, 1, self.hq * self.d), lw["wo"])
            x = self.layer_mlp(x, lw)
        logits = self.mm(self.rms(x, self.norm)[:, -1], self.lm_head)
        return torch.argmax(logits.float(), -1)

    def prefill(self, toks):
        B, T = toks.shape
        x = self.embed[toks]
        pos = torch.arange(T, device=toks.device)
        for lw in self.layers:
            y = self.rms(x, lw["ln1"])
            qkv = self.mm(y, lw["wqkv"]).view(B, T, self.hq + 2 * self.hkv, self.d).transpose(1, 2)
            q, k, v = qkv.split([self.hq, self.hkv, self.hkv], 1)
            q, k = self.rope(q, pos), self.rope(k, pos)
            if self.hkv != self.hq:
                o = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
            else:
                o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.mm(o.transpose(1, 2).reshape(B, T, self.hq * self.d), lw["wo"])
            x = self.layer_mlp(x, lw)
        logits = self.mm(self.rms(x, self.norm)[:, -1], self.lm_head)
        return torch.argmax(logits.float(), -1)


def time_events(fn, reps, warmup=3):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    out = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        out.append(a.elapsed_time(b) * 1000.0)  # us
    out.sort()
    return out


def gpu_state():
    """SM clock (MHz), temperature (C) and power (W) right after a point, or -1s: the same work has
    measured up to 7 % apart in two runs, and the clock is the first suspect."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=clocks.sm,temperature.gpu,power.draw",
                              "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=10).stdout
        sm, temp, power = (float(v) for v in out.strip().splitlines()[0].split(","))
        return dict(sm_clock_mhz=int(sm), temp_c=int(temp), power_w=round(power, 1))
    except Exception:
        return dict(sm_clock_mhz=-1, temp_c=-1, power_w=-1)


def summarize(ts):
    n = len(ts)
    return statistics.median(ts), ts[max(0, int(0.1 * n) - 1)], ts[min(n - 1, int(0.9 * n))]


def count_graph_kernels(fn):
    try:
        from torch.profiler import profile, ProfilerActivity
        with profile(activities=[ProfilerActivity.CUDA]) as p:
            fn()
            torch.cuda.synchronize()
        return sum(1 for e in p.events() if e.device_type.name == "CUDA" and "Memcpy" not in e.name and "Memset" not in e.name)
    except Exception as e:  # profiler unavailable: not fatal
        print("kernel count unavailable:", e, file=sys.stderr)
        return -1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="llama-3-8b", choices=sorted(SHAPES))
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--layout", choices=("linear", "matmul"), default="linear")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    dev = torch.device("cuda")
    torch.manual_seed(0)
    m = Llama(args.model, dev, args.layout)
    reps = 10 if args.quick else 30
    kv_bytes_tok_layer = 2 * m.hkv * m.d * 2
    decode_grid = [(1, 512), (8, 2048), (32, 2048)] if args.quick else [
        (b, c) for b in (1, 8, 32, 64, 128) for c in (512, 2048, 8192)]
    rows = []
    # fp16: the whole context in fp16. fp8: e4m3 storage dequantized (unfused) before SDPA.
    # window512: StreamingLLM-style eviction, a sink + recent window of 512 fp16 tokens kept
    # whatever the context (the sequence's position still advances with the context).
    for kv in ("fp16", "fp8", "window512"):
        for (B, C) in decode_grid:
            kept = min(C, 512) if kv == "window512" else C
            if B * kept * kv_bytes_tok_layer * m.L > 40e9 or (kv == "window512" and C <= 512):
                continue
            dt = torch.float8_e4m3fn if kv == "fp8" else torch.float16
            caches = []
            for _ in range(m.L):
                kc = (torch.randn(B, m.hkv, kept, m.d, device=dev, dtype=torch.float16) * 0.5).to(dt)
                vc = (torch.randn(B, m.hkv, kept, m.d, device=dev, dtype=torch.float16) * 0.5).to(dt)
                caches.append((kc, vc))
            tok = torch.randint(0, m.vocab, (B,), device=dev)
            pos = torch.full((B,), C - 1, device=dev, dtype=torch.long)
            with torch.no_grad():
                s = torch.cuda.Stream()
                s.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(s):
                    for _ in range(2):
                        m.decode_step(tok, pos, caches, kv == "fp8")
                torch.cuda.current_stream().wait_stream(s)
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph):
                    m.decode_step(tok, pos, caches, kv == "fp8")
                ts = time_events(graph.replay, reps)
                kernels = count_graph_kernels(lambda: m.decode_step(tok, pos, caches, kv == "fp8")) if (B, C) == decode_grid[0] else -1
            med, p10, p90 = summarize(ts)
            rows.append(dict(model=args.model, phase="decode", kv=kv, batch=B, context=C, time_us_median=round(med, 2),
                             time_us_p10=round(p10, 2), time_us_p90=round(p90, 2), reps=reps, kernels_eager=kernels,
                             layout=args.layout, **gpu_state()))
            print(f"decode {kv:4s} B={B:4d} C={C:6d}  {med:9.1f} us  (p10 {p10:.1f}, p90 {p90:.1f})", flush=True)
            del caches, graph
            torch.cuda.empty_cache()
    prefill_grid = [(1, 512), (1, 2048)] if args.quick else [(1, 128), (1, 512), (1, 2048), (1, 8192), (4, 1024), (8, 2048)]
    for (B, T) in prefill_grid:
        toks = torch.randint(0, m.vocab, (B, T), device=dev)
        with torch.no_grad():
            # eager (as HF runs it: CPU launch overhead included) and CUDA-graph replay (GPU only)
            ts = time_events(lambda: m.prefill(toks), max(5, reps // 2))
            state_eager = gpu_state()
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                m.prefill(toks)
            torch.cuda.current_stream().wait_stream(s)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                m.prefill(toks)
            tg = time_events(graph.replay, max(5, reps // 2))
            state_graph = gpu_state()
            kernels = count_graph_kernels(lambda: m.prefill(toks)) if (B, T) == prefill_grid[0] else -1
            del graph
        for phase, t, state in (("prefill_eager", ts, state_eager), ("prefill_graph", tg, state_graph)):
            med, p10, p90 = summarize(t)
            rows.append(dict(model=args.model, phase=phase, kv="fp16", batch=B, context=T, time_us_median=round(med, 2),
                             time_us_p10=round(p10, 2), time_us_p90=round(p90, 2), reps=max(5, reps // 2),
                             kernels_eager=kernels, layout=args.layout, **state))
            print(f"{phase:13s} B={B:4d} T={T:6d}  {med:9.1f} us  (p10 {p10:.1f}, p90 {p90:.1f})", flush=True)
        torch.cuda.empty_cache()
    path = os.path.join(args.out, f"e2e_{args.model}.csv")
    write_csv(path, rows)
    meta = dict(tool="torch_llama_e2e.py", model=args.model, gpu=torch.cuda.get_device_name(0),
                torch=torch.__version__, cuda=torch.version.cuda, layout=args.layout, date_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                sm_count=torch.cuda.get_device_properties(0).multi_processor_count, quick=args.quick,
                note="random fp16 weights; decode = CUDA-graph replay of one step, contiguous KV; fp8 = e4m3 storage "
                     "dequantized before SDPA; window512 = 512 kept tokens; prefill both eager and graph-replayed")
    write_json(os.path.join(args.out, f"e2e_{args.model}.meta.json"), meta)


if __name__ == "__main__":
    main()
