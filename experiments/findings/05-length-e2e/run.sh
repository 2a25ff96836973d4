#!/usr/bin/env bash
# Findings 5 and 6: compression makes outputs longer, and end-to-end latency gains shrink or vanish.
set -euo pipefail
cd "$(dirname "$0")/../../.."
KVSIM=${KVSIM:-build/release/sim/kvsim}
PY=${PY:-/usr/bin/python3}
D=experiments/findings/05-length-e2e

# A. E2E latency with the length effect off vs on (ShareGPT-like prompts, and long prompts).
rm -rf $D/sweep_sharegpt $D/sweep_long
$KVSIM sweep -c $D/scenario.yaml      --sweep $D/sweep.yaml      --out $D/sweep_sharegpt -j 2 --no-progress
$KVSIM sweep -c $D/scenario_long.yaml --sweep $D/sweep_long.yaml --out $D/sweep_long     -j 2 --no-progress
rm -f $D/sweep_sharegpt/manifest.json $D/sweep_long/manifest.json

# B. Output-length statistics per method: one 1000-request run each (kvsim run --format json).
echo "method,requests,output_length_ratio,share_1_5x_longer,share_2x_shorter,baseline_output_tokens,output_tokens" > $D/lengths.csv
for m in fp16 kivi-4 kivi-2 gear-4 gear-8 h2o streamingllm snapkv ratio:2 ratio:4 ratio:8; do
  $KVSIM run -c $D/scenario.yaml --set "compression={method: $m, length_effect: true}" --format json 2>/dev/null \
  | $PY -c "
import json, sys
j = json.load(sys.stdin); c = j['summary']['compression']; n = j['summary']['requests']['finished']
print('$m,%d,%.4f,%.4f,%.4f,%d,%d' % (n, c['output_length_ratio'], c['share_1_5x_longer'], c['share_2x_shorter'],
      c['baseline_output_tokens'], c['output_tokens']))" >> $D/lengths.csv
done

$PY $D/plot.py $D
