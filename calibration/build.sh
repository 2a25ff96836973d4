#!/usr/bin/env bash
# Build kvsim-calibrate with nvcc alone (no CMake, Boost or yaml-cpp needed), for the GPU machine.
#   calibration/build.sh [OUTPUT]          default OUTPUT: ./kvsim-calibrate
# Environment: ARCH (default sm_90a), NVCC (default nvcc), JOBS (parallel compiles, default nproc;
# JOBS=1 compiles one file at a time).
# Equivalent one-liner:
#   nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -o kvsim-calibrate \
#     calibration/kvsim_calibrate.cu calibration/harness/*.cu calibration/kernels/*.cu -lcublas -lcublasLt
set -euo pipefail
ARCH="${ARCH:-sm_90a}"
NVCC="${NVCC:-nvcc}"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 1)}"
OUT="${1:-./kvsim-calibrate}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NUM="${ARCH#sm_}"
FLAGS=(-O3 -std=c++17 "-gencode=arch=compute_${NUM},code=sm_${NUM}")
SRCS=("$HERE/kvsim_calibrate.cu" "$HERE"/harness/*.cu "$HERE"/kernels/*.cu)
OBJ="$(mktemp -d "${TMPDIR:-/tmp}/kvsim-calibrate-obj.XXXXXX")"
trap 'rm -rf "$OBJ"' EXIT
echo "building kvsim-calibrate for ${ARCH} with $("$NVCC" --version | tail -1) (${JOBS} jobs)" >&2
pids=()
objs=()
i=0
for src in "${SRCS[@]}"; do
  obj="$OBJ/$i.o"
  objs+=("$obj")
  "$NVCC" "${FLAGS[@]}" -c "$src" -o "$obj" &
  pids+=($!)
  i=$((i + 1))
  if [ "${#pids[@]}" -ge "$JOBS" ]; then
    wait "${pids[0]}"
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p"; done
"$NVCC" "${FLAGS[@]}" -o "$OUT" "${objs[@]}" -lcublas -lcublasLt
echo "built $OUT" >&2
