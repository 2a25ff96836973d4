"""Timing one PyTorch op the way kvsim-calibrate times a kernel: N launches captured in a CUDA
graph and replayed, CUDA events around the replay, median over repetitions, time / N per launch.
Timing a single eager call with events would measure Python and dispatcher time instead of the
GPU whenever the kernel is shorter than the host's launch path (tens of microseconds for SDPA)."""
import statistics

import torch


def replay_us(graph):
    """One replay of a captured CUDA graph, timed with CUDA events, in microseconds."""
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    a.record()
    graph.replay()
    b.record()
    b.synchronize()
    return a.elapsed_time(b) * 1000.0


def time_graph_per_launch(fns, reps=30, target_us=2000.0):
    """fns: callables, one per input set (rotated so large weights do not sit in L2).
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
    for _ in range(3):
        g.replay()
    torch.cuda.synchronize()
    ts = sorted(replay_us(g) / n for _ in range(reps))
    del g
    return statistics.median(ts), ts[max(0, len(ts) // 10 - 1)], ts[min(len(ts) - 1, 9 * len(ts) // 10)], n
