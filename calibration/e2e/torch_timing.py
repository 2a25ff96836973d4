"""Timing one PyTorch op the way kvsim-calibrate times a kernel: N launches captured in a CUDA
graph and replayed, CUDA events around the replay, median over repetitions, time / N per launch.
Timing a single eager call with events would measure Python and dispatcher time instead of the
GPU whenever the kernel is shorter than the host's launch path (tens of microseconds for SDPA)."""
import statistics
import time

import torch

# Rest between timed replays of compute-bound chains: max(REST_MIN_S, REST_RATIO x the replay).
# Back to back, such chains hold an H200 at its power cap and the clock falls ~25 % within tens of
# ms, which a model step does not (results/h200/power_probe); kvsim-calibrate's Pacing::rested().
REST_MIN_S = 0.005
REST_RATIO = 1.0


def replay_us(graph):
    """One replay of a captured CUDA graph, timed with CUDA events, in microseconds."""
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    a.record()
    graph.replay()
    b.record()
    b.synchronize()
    return a.elapsed_time(b) * 1000.0


def time_graph_per_launch(fns, reps=30, target_us=2000.0, rested=False):
    """fns: callables, one per input set (rotated so large weights do not sit in L2).
    rested: the GPU idles between replays (REST_*), as kvsim-calibrate times GEMMs.
    Returns (median, p10, p90) microseconds per launch and the launches per replay."""
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for f in fns:
            f()
    torch.cuda.current_stream().wait_stream(s)
    # Estimate one launch from a short graph, then size the chain to about target_us.
    def capture(n):
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            for i in range(n):
                fns[i % len(fns)]()
        return g

    n0 = max(len(fns), 4)
    g = capture(n0)
    g.replay()
    torch.cuda.synchronize()
    one = replay_us(g) / n0
    del g
    n = int(max(n0, min(400, target_us / max(one, 1e-3))))
    n = max(len(fns), n - n % len(fns))
    g = capture(n)

    def rest(us):
        if rested:
            time.sleep(max(REST_MIN_S, REST_RATIO * us * 1e-6))

    for _ in range(3):
        g.replay()
        if rested:
            torch.cuda.synchronize()
            rest(one * n)
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        us = replay_us(g)
        ts.append(us / n)
        rest(us)
    ts.sort()
    del g
    return statistics.median(ts), ts[max(0, len(ts) // 10 - 1)], ts[min(len(ts) - 1, 9 * len(ts) // 10)], n
