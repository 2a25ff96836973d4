#!/usr/bin/env bash
# Per-request compression routing: 1 fp16 + 3 compressed replicas behind the compression_aware
# router vs single-method 4-replica clusters; plus a prompt-length routing rule inside replicas.
set -euo pipefail
cd "$(dirname "$0")/../../.."
KVSIM=${KVSIM:-build/release/sim/kvsim}
PY=${PY:-/usr/bin/python3}
D=experiments/findings/06-routing

rm -rf $D/sweep_mixed $D/sweep_long $D/sweep_selective
$KVSIM sweep -c $D/scenario.yaml           --sweep $D/sweep.yaml           --out $D/sweep_mixed     -j 2 --no-progress
$KVSIM sweep -c $D/scenario_long.yaml      --sweep $D/sweep_long.yaml      --out $D/sweep_long      -j 2 --no-progress
$KVSIM sweep -c $D/scenario_selective.yaml --sweep $D/sweep_selective.yaml --out $D/sweep_selective -j 2 --no-progress
rm -f $D/sweep_*/manifest.json

# Where did the router send what? One run of each mixed layout at 45 req/s; per-replica prompt
# and output lengths from requests.csv.
T=$(mktemp -d)
echo "layout,replica,method,requests,mean_prompt,p90_prompt,mean_output,mean_e2e_s" > $D/routing_by_replica.csv
for layout in "mixed-4:fp16,kivi-4,h2o,streamingllm" "mixed-sl:fp16,streamingllm,streamingllm,streamingllm"; do
  name=${layout%%:*}; IFS=, read -r m0 m1 m2 m3 <<< "${layout#*:}"
  $KVSIM run -c $D/scenario.yaml --set cluster.replicas.0.compression=$m0 --set cluster.replicas.1.compression=$m1 \
    --set cluster.replicas.2.compression=$m2 --set cluster.replicas.3.compression=$m3 --out $T/$name >/dev/null 2>&1
  $PY - "$T/$name/requests.csv" "$name" "$m0,$m1,$m2,$m3" >> $D/routing_by_replica.csv <<'PYEOF'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["status"] == "finished"]
methods = sys.argv[3].split(",")
for i, m in enumerate(methods):
    rs = [r for r in rows if int(r["replica"]) == i]
    p = sorted(int(r["prompt_tokens"]) for r in rs)
    print("%s,%d,%s,%d,%.0f,%d,%.0f,%.3f" % (sys.argv[2], i, m, len(rs), sum(p) / len(p), p[int(0.9 * (len(p) - 1))],
          sum(int(r["output_tokens"]) for r in rs) / len(rs), sum(float(r["e2e_ms"]) for r in rs) / len(rs) / 1000))
PYEOF
done
rm -rf "$T"

$PY $D/plot.py $D
