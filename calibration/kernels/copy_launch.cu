// copy:   cudaMemcpyAsync host<->device (pinned host memory) and device->device.
// launch: the cost of launching tiny kernels, eagerly and from a CUDA graph. Modes "eager" and
//         "graph" are host wall clock from the first launch call (or cudaGraphLaunch) to the end
//         of cudaStreamSynchronize; "*_device_events" time the same work with CUDA events.
#include <chrono>
#include <cmath>
#include <cstring>

#include "families.cuh"

namespace kvcal {
namespace {

__global__ void tiny_kernel(int* p) {
  if (threadIdx.x == 0) p[blockIdx.x] += 1;
}

}  // namespace

void run_copy(Ctx& ctx, std::string& grid) {
  std::vector<long long> sizes;
  if (ctx.dry()) {
    sizes = {1 << 20};
  } else if (ctx.quick()) {
    sizes = {1LL << 20, 64LL << 20, 1LL << 30};
  } else {
    for (long long s = 1LL << 20; s <= (2LL << 30); s *= 2) sizes.push_back(s);
  }
  // The round-trip check below moves 3 MiB: the pinned buffer must hold it even in --dry-run
  // (whose grid is 1 MiB; a smaller buffer overflowed and crashed the dry run on the H200).
  const long long max_size = std::max(sizes.back(), 3LL << 20);
  void* host = nullptr;
  CK(cudaHostAlloc(&host, static_cast<size_t>(max_size), cudaHostAllocDefault));
  std::memset(host, 0x5A, static_cast<size_t>(max_size));
  DevBuf dev(static_cast<size_t>(max_size));
  fill_bytes(dev.get(), dev.bytes(), 80, ctx.stream);

  // Check: a round trip and a device copy preserve every byte.
  {
    const size_t n = 3 << 20;
    std::vector<uint8_t> a(n), b(n, 0);
    HostRng rng(81);
    for (auto& e : a) e = static_cast<uint8_t>(rng.next());
    DevBuf d1(n), d2(n);
    std::memcpy(host, a.data(), n);
    CK(cudaMemcpyAsync(d1.get(), host, n, cudaMemcpyHostToDevice, ctx.stream));
    CK(cudaMemcpyAsync(d2.get(), d1.get(), n, cudaMemcpyDeviceToDevice, ctx.stream));
    CK(cudaMemsetAsync(d1.get(), 0, n, ctx.stream));
    CK(cudaMemcpyAsync(host, d2.get(), n, cudaMemcpyDeviceToHost, ctx.stream));
    CK(cudaStreamSynchronize(ctx.stream));
    std::memcpy(b.data(), host, n);
    double bad = 0;
    for (size_t i = 0; i < n; ++i) bad += a[i] != b[i];
    require(bad == 0, "copy", "h2d+d2d+d2h_roundtrip", "mismatched_bytes", bad, 0);
  }

  Table tab("copy", {"direction", "bytes"}, {"gbps"});
  for (const char* dir : {"h2d", "d2h", "d2d"}) {
    for (long long sz : sizes) {
      const size_t n = static_cast<size_t>(sz);
      Stats st;
      if (std::string(dir) == "d2d") {
        const int nsets = ctx.sets_for(2 * n);
        DevBuf src(n * nsets), dst(n * nsets);
        fill_bytes(src.get(), src.bytes(), 82, ctx.stream);
        st = ctx.time(
            [&](int i, cudaStream_t s) {
              CK(cudaMemcpyAsync(dst.as<uint8_t>() + n * i, src.as<uint8_t>() + n * i, n, cudaMemcpyDeviceToDevice, s));
            },
            nsets);
      } else {
        const bool h2d = dir[0] == 'h';
        st = ctx.time(
            [&](int, cudaStream_t s) {
              if (h2d) CK(cudaMemcpyAsync(dev.get(), host, n, cudaMemcpyHostToDevice, s));
              else CK(cudaMemcpyAsync(host, dev.get(), n, cudaMemcpyDeviceToHost, s));
            },
            1);
      }
      const double gbps = static_cast<double>(n) / (st.median * 1e-6) / 1e9;
      tab.add({dir, fmti(sz)}, st, {fmtd(gbps, 2)});
      logf("[copy] %-4s %12lld B %12.2f us %8.2f GB/s\n", dir, sz, st.median, gbps);
    }
  }
  CK(cudaFreeHost(host));
  tab.write(ctx.opt.out_dir);
  grid = "{\"bytes\":" + json_int_list(sizes) + ",\"directions\":[\"h2d\",\"d2h\",\"d2d\"],\"host_memory\":\"pinned\"}";
}

void run_launch(Ctx& ctx, std::string& grid) {
  const std::vector<long long> ns = ctx.dry() ? std::vector<long long>{1, 10} : std::vector<long long>{1, 10, 100, 1000};
  DevBuf counters(4096 * sizeof(int));
  CK(cudaMemsetAsync(counters.get(), 0, counters.bytes(), ctx.stream));
  cudaStream_t s = ctx.stream;
  // Check: N launches increment a counter N times (eager and graph).
  {
    tiny_kernel<<<1, 32, 0, s>>>(counters.as<int>());
    cudaGraph_t g;
    cudaGraphExec_t ge;
    CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
    for (int i = 0; i < 10; ++i) tiny_kernel<<<1, 32, 0, s>>>(counters.as<int>());
    CK(cudaStreamEndCapture(s, &g));
    CK(cudaGraphInstantiate(&ge, g, 0));
    CK(cudaGraphLaunch(ge, s));
    CK(cudaStreamSynchronize(s));
    const int got = download<int>(counters.as<int>(), 1)[0];
    CK(cudaGraphExecDestroy(ge));
    CK(cudaGraphDestroy(g));
    require(got == 11, "launch", "tiny_kernel_count", "count", got, 11);
  }
  Table tab("launch", {"mode", "kernels"}, {"us_per_kernel"});
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  const int reps = ctx.reps, warm = std::max(2, ctx.warmup);
  for (long long N64 : ns) {
    const int N = static_cast<int>(N64);
    cudaGraph_t g;
    cudaGraphExec_t ge;
    CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
    for (int i = 0; i < N; ++i) tiny_kernel<<<1, 32, 0, s>>>(counters.as<int>() + (i % 1024));
    CK(cudaStreamEndCapture(s, &g));
    CK(cudaGraphInstantiate(&ge, g, 0));
    for (const char* mode : {"eager", "graph", "eager_device_events", "graph_device_events"}) {
      const bool graph = mode[0] == 'g';
      const bool host = std::string(mode).find("events") == std::string::npos;
      auto issue = [&]() {
        if (graph) {
          CK(cudaGraphLaunch(ge, s));
        } else {
          for (int i = 0; i < N; ++i) tiny_kernel<<<1, 32, 0, s>>>(counters.as<int>() + (i % 1024));
        }
      };
      for (int w = 0; w < warm; ++w) issue();
      CK_LAUNCH();
      CK(cudaStreamSynchronize(s));
      Stats st;
      for (int r = 0; r < reps; ++r) {
        if (host) {
          const auto t0 = std::chrono::steady_clock::now();
          issue();
          CK(cudaStreamSynchronize(s));
          const auto t1 = std::chrono::steady_clock::now();
          st.samples_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
        } else {
          CK(cudaEventRecord(e0, s));
          issue();
          CK(cudaEventRecord(e1, s));
          CK(cudaEventSynchronize(e1));
          float ms = 0;
          CK(cudaEventElapsedTime(&ms, e0, e1));
          st.samples_us.push_back(1000.0 * ms);
        }
      }
      CK_LAUNCH();
      st.finalize();
      tab.add({mode, fmti(N)}, st, {fmtd(st.median / N, 3)});
      logf("[launch] %-12s N=%-5d %10.2f us  %7.3f us/kernel\n", mode, N, st.median, st.median / N);
    }
    CK(cudaGraphExecDestroy(ge));
    CK(cudaGraphDestroy(g));
  }
  CK(cudaEventDestroy(e0));
  CK(cudaEventDestroy(e1));
  tab.write(ctx.opt.out_dir);
  grid = "{\"kernels\":" + json_int_list(ns) +
         ",\"modes\":[\"eager\",\"graph\",\"eager_device_events\",\"graph_device_events\"],\"kernel\":\"<<<1,32>>> increment\"}";
}

}  // namespace kvcal
