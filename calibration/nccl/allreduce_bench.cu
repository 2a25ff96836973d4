// kvsim-nccl-bench: NCCL collectives across all GPUs of one host, over message sizes 4 KB .. 1 GB,
// for the tensor- and pipeline-parallel cost model:
//   allreduce  fp16 sum, every GPU's buffer `bytes`                 -> OUT/allreduce.csv
//   allgather  fp16, `bytes` = the gathered output on every GPU      -> OUT/allgather.csv
//   sendrecv   fp16, GPU 0 sends `bytes` to GPU 1 (one pipeline hop) -> OUT/sendrecv.csv
// Each is checked first on 1M elements (exact in fp16): all-reduce gives n(n+1)/2 everywhere,
// all-gather puts rank r's value r+1 in slot r on every rank, the receiver holds the sender's
// value. Timed with CUDA events on GPU 0 around back-to-back operations (after warm-up);
// median of 20 repetitions. OUT/<op>_meta.json records GPU, NCCL version and date.
// Usage: kvsim-nccl-bench OUT [allreduce,allgather,sendrecv]   (default: all three)
// Build: nvcc -O3 -std=c++17 -o kvsim-nccl-bench calibration/nccl/allreduce_bench.cu -lnccl
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#define CK(x) do { cudaError_t e = (x); if (e != cudaSuccess) { std::fprintf(stderr, "CUDA %s at %s:%d\n", cudaGetErrorString(e), __FILE__, __LINE__); std::exit(1); } } while (0)
#define NK(x) do { ncclResult_t r = (x); if (r != ncclSuccess) { std::fprintf(stderr, "NCCL %s at %s:%d\n", ncclGetErrorString(r), __FILE__, __LINE__); std::exit(1); } } while (0)

__global__ void fill(half* p, size_t n, float v) {
  for (size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) p[i] = __float2half(v);
}

namespace {

struct Ctx {
  int ngpu = 0;
  std::vector<ncclComm_t> comms;
  std::vector<half*> a, b;  // send and receive buffers, max_bytes each
  std::vector<cudaStream_t> st;
};

void sync_all(Ctx& c) {
  for (int i = 0; i < c.ngpu; ++i) { CK(cudaSetDevice(i)); CK(cudaStreamSynchronize(c.st[i])); }
}

bool expect(Ctx& c, int rank, const half* p, size_t n, size_t stride_slot, const std::function<float(size_t)>& want) {
  CK(cudaSetDevice(rank));
  std::vector<half> h(n);
  CK(cudaMemcpy(h.data(), p, n * sizeof(half), cudaMemcpyDeviceToHost));
  for (size_t k = 0; k < n; k += 4097) {
    const float w = want(stride_slot ? k / stride_slot : 0);
    if (__half2float(h[k]) != w) { std::fprintf(stderr, "check failed on rank %d at %zu: %f != %f\n", rank, k, __half2float(h[k]), w); return false; }
  }
  (void)c;
  return true;
}

// Times `issue(count)` (which enqueues `count` operations on every participating stream).
std::vector<double> time_op(Ctx& c, const std::function<void(int)>& issue, size_t bytes) {
  const int inner = bytes < (size_t(1) << 24) ? 50 : 5, reps = 20;
  issue(3);
  sync_all(c);
  std::vector<double> ts;
  for (int r = 0; r < reps; ++r) {
    cudaEvent_t e0, e1;
    CK(cudaSetDevice(0));
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    CK(cudaEventRecord(e0, c.st[0]));
    issue(inner);
    CK(cudaSetDevice(0));
    CK(cudaEventRecord(e1, c.st[0]));
    sync_all(c);
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, e0, e1));
    ts.push_back(ms * 1000.0 / inner);
    CK(cudaEventDestroy(e0));
    CK(cudaEventDestroy(e1));
  }
  std::sort(ts.begin(), ts.end());
  return ts;
}

std::string now_utc() {
  char date[64];
  std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return date;
}

void write_table(const std::string& out, const std::string& op, int gpus, const std::string& csv, const std::string& what) {
  std::ofstream(out + "/" + op + ".csv") << csv;
  int nccl_version = 0;
  ncclGetVersion(&nccl_version);
  cudaDeviceProp p;
  CK(cudaGetDeviceProperties(&p, 0));
  std::ofstream(out + "/" + op + "_meta.json") << "{\"schema_version\": 1, \"tool\": \"kvsim-nccl-bench\", \"gpu_name\": \"" << p.name
      << "\", \"gpus\": " << gpus << ", \"nccl_version\": " << nccl_version << ", \"date_utc\": \"" << now_utc()
      << "\", \"dtype\": \"fp16\", \"op\": \"" << op << "\", \"bytes\": \"" << what
      << "\", \"timing\": \"CUDA events on GPU 0 around back-to-back operations, median of 20\"}\n";
}

const char* kHeader = "gpus,bytes,time_us_median,time_us_p10,time_us_p90,reps,algbw_gbps,busbw_gbps\n";

std::string row(int gpus, size_t bytes, const std::vector<double>& ts, double bus_factor) {
  const double med = ts[ts.size() / 2];
  const double algbw = bytes / (med * 1e-6) / 1e9;
  char line[256];
  std::snprintf(line, sizeof line, "%d,%zu,%.3f,%.3f,%.3f,%zu,%.2f,%.2f\n", gpus, bytes, med, ts[1], ts[ts.size() - 2], ts.size(),
                algbw, algbw * bus_factor);
  return line;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string out = argc > 1 ? argv[1] : "nccl-out";
  const std::string ops = argc > 2 ? argv[2] : "allreduce,allgather,sendrecv";
  Ctx c;
  CK(cudaGetDeviceCount(&c.ngpu));
  const int n = c.ngpu;
  if (n < 2) { std::fprintf(stderr, "need 2+ GPUs (found %d)\n", n); return 77; }
  c.comms.resize(n);
  std::vector<int> devs(n);
  for (int i = 0; i < n; ++i) devs[i] = i;
  NK(ncclCommInitAll(c.comms.data(), n, devs.data()));
  const size_t max_bytes = size_t(1) << 30;
  c.a.resize(n);
  c.b.resize(n);
  c.st.resize(n);
  for (int i = 0; i < n; ++i) {
    CK(cudaSetDevice(i));
    CK(cudaMalloc(&c.a[i], max_bytes));
    CK(cudaMalloc(&c.b[i], max_bytes));
    CK(cudaStreamCreate(&c.st[i]));
  }
  if (std::system(("mkdir -p " + out).c_str()) != 0) return 1;
  const size_t chk = 1 << 20;  // elements per rank in the checks
  auto fill_ranks = [&](size_t elems) {
    for (int i = 0; i < n; ++i) { CK(cudaSetDevice(i)); fill<<<256, 256, 0, c.st[i]>>>(c.a[i], elems, float(i + 1)); }
  };

  if (ops.find("allreduce") != std::string::npos) {
    fill_ranks(chk);
    NK(ncclGroupStart());
    for (int i = 0; i < n; ++i) NK(ncclAllReduce(c.a[i], c.b[i], chk, ncclHalf, ncclSum, c.comms[i], c.st[i]));
    NK(ncclGroupEnd());
    sync_all(c);
    for (int i = 0; i < n; ++i) if (!expect(c, i, c.b[i], chk, 0, [&](size_t) { return n * (n + 1) / 2.0f; })) return 3;
    std::printf("check allreduce fp16 sum over %d GPUs ok\n", n);
    std::string csv = kHeader;
    for (size_t bytes = 4096; bytes <= max_bytes; bytes *= 4) {
      const size_t e = bytes / 2;
      const auto ts = time_op(c, [&](int count) {
        NK(ncclGroupStart());
        for (int i = 0; i < n; ++i)
          for (int k = 0; k < count; ++k) NK(ncclAllReduce(c.a[i], c.a[i], e, ncclHalf, ncclSum, c.comms[i], c.st[i]));
        NK(ncclGroupEnd());
      }, bytes);
      csv += row(n, bytes, ts, 2.0 * (n - 1) / n);
      std::printf("allreduce %d GPUs %12zu B %10.2f us\n", n, bytes, ts[ts.size() / 2]);
    }
    write_table(out, "allreduce", n, csv, "each GPU's buffer");
  }
  if (ops.find("allgather") != std::string::npos) {
    fill_ranks(chk);
    NK(ncclGroupStart());
    for (int i = 0; i < n; ++i) NK(ncclAllGather(c.a[i], c.b[i], chk, ncclHalf, c.comms[i], c.st[i]));
    NK(ncclGroupEnd());
    sync_all(c);
    for (int i = 0; i < n; ++i) if (!expect(c, i, c.b[i], chk * n, chk, [&](size_t slot) { return float(slot + 1); })) return 3;
    std::printf("check allgather fp16 over %d GPUs ok\n", n);
    std::string csv = kHeader;
    for (size_t bytes = 4096 * n; bytes <= max_bytes; bytes *= 4) {
      const size_t e = bytes / 2 / n;  // elements each rank contributes
      const auto ts = time_op(c, [&](int count) {
        NK(ncclGroupStart());
        for (int i = 0; i < n; ++i)
          for (int k = 0; k < count; ++k) NK(ncclAllGather(c.a[i], c.b[i], e, ncclHalf, c.comms[i], c.st[i]));
        NK(ncclGroupEnd());
      }, bytes);
      csv += row(n, bytes, ts, double(n - 1) / n);
      std::printf("allgather %d GPUs %12zu B %10.2f us\n", n, bytes, ts[ts.size() / 2]);
    }
    write_table(out, "allgather", n, csv, "gathered output on every GPU");
  }
  if (ops.find("sendrecv") != std::string::npos) {
    fill_ranks(chk);
    NK(ncclGroupStart());
    NK(ncclSend(c.a[0], chk, ncclHalf, 1, c.comms[0], c.st[0]));
    NK(ncclRecv(c.b[1], chk, ncclHalf, 0, c.comms[1], c.st[1]));
    NK(ncclGroupEnd());
    sync_all(c);
    if (!expect(c, 1, c.b[1], chk, 0, [&](size_t) { return 1.0f; })) return 3;
    std::printf("check send 0 -> 1 ok\n");
    std::string csv = kHeader;
    for (size_t bytes = 4096; bytes <= max_bytes; bytes *= 4) {
      const size_t e = bytes / 2;
      const auto ts = time_op(c, [&](int count) {
        for (int k = 0; k < count; ++k) {
          NK(ncclGroupStart());
          NK(ncclSend(c.a[0], e, ncclHalf, 1, c.comms[0], c.st[0]));
          NK(ncclRecv(c.b[1], e, ncclHalf, 0, c.comms[1], c.st[1]));
          NK(ncclGroupEnd());
        }
      }, bytes);
      csv += row(2, bytes, ts, 1.0);
      std::printf("sendrecv 0->1 %12zu B %10.2f us\n", bytes, ts[ts.size() / 2]);
    }
    write_table(out, "sendrecv", 2, csv, "bytes sent from GPU 0 to GPU 1");
  }
  for (int i = 0; i < n; ++i) ncclCommDestroy(c.comms[i]);
  return 0;
}
