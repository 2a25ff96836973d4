#!/usr/bin/python3
"""Print fp16/method step-time gain tables from a stepgrid CSV: gaintable.py CSV LABEL [methods] [tensor]."""
import sys, os
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import read_csv, step_table
rows = read_csv(sys.argv[1]); label = sys.argv[2]
t = step_table(rows, label)
methods = sys.argv[3].split(",") if len(sys.argv) > 3 else sorted({k[0] for k in t} - {"fp16"})
tensors = sorted({k[1] for k in t})
for m in methods:
    for T in tensors:
        bs = sorted({k[2] for k in t if k[1] == T}); cs = sorted({k[3] for k in t if k[1] == T})
        print("%s %s T=%d  (rows batch, cols context %s)" % (label, m, T, cs))
        for b in bs:
            print("  %3d " % b + " ".join("%5.2f" % (t[("fp16", T, b, c)] / t[(m, T, b, c)]) for c in cs))
