#!/usr/bin/python3
"""Run `kvsim step` over a grid and write one CSV row per point.

  stepgrid.py --kvsim BIN --out FILE.csv --phase decode|prefill \
      --model M --gpu G --methods fp16,kivi-4 --batches 1,4 --contexts 512,1024 \
      [--tensors 1,2] [--cost-model auto|roofline] [--extra "--overhead eager"] [--label X] [--append]

Columns: label,model,gpu,cost_model,phase,tensor,batch,context,method,total_ms,gpu_ms,cpu_ms,
attn_ms,kv_ops_ms,tp_comm_ms,tokens_per_s,ops (op=ms;... for every operator).
"""
import argparse, csv, json, os, shlex, subprocess, sys

COLS = ["label", "model", "gpu", "cost_model", "phase", "tensor", "batch", "context", "method",
        "total_ms", "gpu_ms", "cpu_ms", "attn_ms", "kv_ops_ms", "tp_comm_ms", "tokens_per_s", "ops"]


def ints(s):
    return [int(x) for x in s.split(",") if x]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kvsim", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--phase", required=True)
    ap.add_argument("--model", default="llama-3-8b")
    ap.add_argument("--gpu", default="h200")
    ap.add_argument("--methods", required=True)
    ap.add_argument("--batches", required=True)
    ap.add_argument("--contexts", required=True)
    ap.add_argument("--tensors", default="1")
    ap.add_argument("--cost-model", default="auto")
    ap.add_argument("--extra", default="")
    ap.add_argument("--label", default="")
    ap.add_argument("--append", action="store_true")
    a = ap.parse_args()

    mode = "a" if a.append and os.path.exists(a.out) else "w"
    with open(a.out, mode, newline="") as f:
        w = csv.writer(f)
        if mode == "w":
            w.writerow(COLS)
        for t in ints(a.tensors):
            for m in a.methods.split(","):
                for b in ints(a.batches):
                    for c in ints(a.contexts):
                        cmd = [a.kvsim, "step", "--model", a.model, "--gpu", a.gpu,
                               "--batch", str(b), "--context", str(c), "--phase", a.phase,
                               "--compression", m, "--cost-model", a.cost_model,
                               "--tensor", str(t), "--format", "json"] + shlex.split(a.extra)
                        p = subprocess.run(cmd, capture_output=True, text=True)
                        if p.returncode != 0:
                            sys.stderr.write("FAILED (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stderr))
                            sys.exit(p.returncode)
                        j = json.loads(p.stdout)
                        ops = j["ops"]
                        ms = lambda k: ops.get(k, {}).get("ms", 0.0)
                        attn = ms("attn_decode") + ms("attn_prefill")
                        kv = sum(v["ms"] for k, v in ops.items() if k.startswith("kv_"))
                        cm = j["cost_model"].split(" ")[0]
                        w.writerow([a.label, a.model, a.gpu, cm, a.phase, t, b, c, m,
                                    "%.4f" % j["total_ms"], "%.4f" % j["gpu_ms"], "%.4f" % j["cpu_ms"],
                                    "%.4f" % attn, "%.4f" % kv, "%.4f" % ms("tp_comm"),
                                    "%.1f" % j["tokens_per_s"],
                                    ";".join("%s=%.4f" % (k, v["ms"]) for k, v in sorted(ops.items()))])


if __name__ == "__main__":
    main()
