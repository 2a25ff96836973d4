#!/usr/bin/env bash
# Issue #16 item 5: running out of memory ends with a message and exit 1, never an abort. A run of
# 1e8 requests arriving at once holds every waiting request; under a 400 MB address-space limit
# (ulimit -v) the allocation fails, and kvsim must print its out-of-memory error and exit 1.
# Skipped (77) under AddressSanitizer, whose shadow memory cannot be mapped under such a limit.
# Usage: out_of_memory.sh KVSIM
kvsim="$1"
if nm -C "$kvsim" 2>/dev/null | grep -q "__asan_init"; then
  echo "SKIP: AddressSanitizer build (its shadow memory needs more address space than the limit)"; exit 77
fi
err="$(mktemp)"
trap 'rm -f "$err"' EXIT
( ulimit -v 400000; exec "$kvsim" run --set workload.num_requests=100000000 --set 'workload.arrival={kind: all-at-once}' \
    --set run.sample_interval_s=0 > /dev/null 2> "$err" )
rc=$?
want="kvsim run: error: out of memory (the scenario needs more memory than this process may use)"
if [ "$rc" -ne 1 ] || [ "$(tail -1 "$err")" != "$want" ]; then
  echo "FAIL: exit $rc, stderr:"; cat "$err"; exit 1
fi
echo "ok: exit 1, '$want'"
