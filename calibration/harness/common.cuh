// kvsim-calibrate: shared harness (errors, device buffers, random fills, timing, CSV output).
//
// The harness is deliberately small and dependency-free (CUDA runtime + cuBLAS/cuBLASLt only) so
// the program builds on a bare GPU machine with nothing but nvcc.
#pragma once

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <set>
#include <string>
#include <vector>

namespace kvcal {

// Exit codes: 0 ok, 1 CUDA/cuBLAS/IO failure, 2 bad command line, 3 a kernel failed its CPU check.
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;
constexpr int kExitCheckFailed = 3;

[[noreturn]] void die_cuda(cudaError_t e, const char* what, const char* file, int line);
[[noreturn]] void die_cublas(int status, const char* what, const char* file, int line);
[[noreturn]] void die(const std::string& msg, int code = kExitRuntime);

#define CK(x)                                                                    \
  do {                                                                           \
    cudaError_t e_ = (x);                                                        \
    if (e_ != cudaSuccess) ::kvcal::die_cuda(e_, #x, __FILE__, __LINE__);        \
  } while (0)
#define CK_LAUNCH() CK(cudaGetLastError())
#define CKB(x)                                                                   \
  do {                                                                           \
    int s_ = static_cast<int>(x);                                                \
    if (s_ != 0) ::kvcal::die_cublas(s_, #x, __FILE__, __LINE__);               \
  } while (0)

// ---------------------------------------------------------------------------------------------
// Model shapes (built in: the GPU machine has no YAML parser). Per tensor-parallel rank.
struct ModelShape {
  std::string name;
  int layers;
  int hidden;      // h
  int q_heads;     // query heads on this rank
  int kv_heads;    // KV heads on this rank
  int head_dim;    // d
  int ffn;         // intermediate size on this rank
  int vocab;       // LM-head rows on this rank (vocab / tp)
  int full_vocab;  // vocabulary size (sampling softmax runs over the gathered logits)
  int tp;
  int group() const { return q_heads / kv_heads; }
};
const std::vector<ModelShape>& builtin_shapes();

// ---------------------------------------------------------------------------------------------
struct Options {
  std::string model_shape;
  std::string out_dir;
  bool quick = false;
  bool dry_run = false;
  std::set<std::string> only;  // empty: all families
  int reps = 0;                // 0: mode default
  int warmup = 0;              // 0: mode default
  double max_kv_gb = 40.0;     // decode points whose device footprint exceeds this are skipped
  int device = 0;
};

struct DeviceInfo {
  cudaDeviceProp prop{};
  int device = 0;
  int sm_count = 0;
  size_t l2_bytes = 0;
  int clock_khz = 0;
  int mem_clock_khz = 0;
  int mem_bus_width = 0;
  int driver_version = 0;
  int runtime_version = 0;
  int cublas_version = 0;
  size_t cublaslt_version = 0;
};

// Timing statistics of one benchmark point: per-launch time of every repetition, in microseconds.
struct Stats {
  std::vector<double> samples_us;
  double median = 0, p10 = 0, p90 = 0, mean = 0, min = 0, max = 0;
  int inner = 1;  // launches (or graph nodes groups) per timed repetition
  int nsets = 1;  // distinct input sets rotated through
  void finalize();
};

// How a timed repetition is spaced from the next. A chain of compute-bound kernels replayed back
// to back holds an H200 at its power cap within tens of milliseconds, and the SM clock falls from
// 1980 to ~1450 MHz: a 512 x 28672 x 4096 GEMM then takes 180 us where the same GEMM rested takes
// 161-163 us and inside a model step 163.5 us (calibration/e2e/results/h200/power_probe). A model
// step of moderate size interleaves such kernels with memory-bound ones and does not reach the
// cap (very long prefills do: docs/calibration.md 4c), so families
// whose kernels are compute-bound rest the GPU between repetitions (idle, the host sleeping) for
// max(min_idle_us, idle_ratio x the repetition's duration). Zero: back to back.
struct Pacing {
  double idle_ratio = 0;
  double min_idle_us = 0;
  bool paced() const { return idle_ratio > 0 || min_idle_us > 0; }
  // The spacing the GEMM family uses (the probe's idle_5ms and after_idle_200ms modes agree
  // within 1.3 %).
  static Pacing rested() { return Pacing{1.0, 5000.0}; }
};

// Benchmark context handed to every family.
class Ctx {
 public:
  Options opt;
  ModelShape shape;
  DeviceInfo dev;
  cudaStream_t stream = nullptr;
  cublasHandle_t blas = nullptr;
  cublasLtHandle_t lt = nullptr;
  void* blas_ws = nullptr;
  size_t blas_ws_bytes = 64u << 20;
  int reps = 30;
  int warmup = 3;
  double target_rep_us = 1000.0;  // a timed repetition should last at least this long
  int max_inner = 256;            // cap on launches per repetition (beyond what rotation needs)
  int max_sets = 2048;            // cap on rotated input sets

  // Every timed repetition streams at least this many distinct input bytes, so no launch finds
  // its inputs in L2 (2.5x the L2 size).
  size_t cold_bytes() const { return dev.l2_bytes * 5 / 2; }
  // Number of input sets of set_bytes each to rotate through so a repetition is L2-cold.
  int sets_for(size_t set_bytes) const;

  // Time enqueue(i, stream) for i = 0..inner-1 (the enqueue must use input set i % nsets),
  // captured into one CUDA graph; each repetition replays the graph once between two events.
  // Returns per-launch time statistics. Falls back to eager launches if capture fails.
  using Enqueue = std::function<void(int, cudaStream_t)>;
  Stats time(const Enqueue& enqueue, int nsets, bool allow_graph = true, const Pacing& pacing = Pacing{});

  bool dry() const { return opt.dry_run; }
  bool quick() const { return opt.quick; }
};

// ---------------------------------------------------------------------------------------------
// Output tables. Key columns are everything before the timing columns; samples/<family>.csv
// repeats the key columns with one row per repetition.
class Table {
 public:
  // Columns: key_cols, then time_us_median,time_us_p10,time_us_p90,reps, then extra_cols, then
  // launches_per_rep,input_sets.
  Table(std::string family, std::vector<std::string> key_cols, std::vector<std::string> extra_cols);
  void add(const std::vector<std::string>& keys, const Stats& st, const std::vector<std::string>& extras);
  void write(const std::string& out_dir) const;  // atomic (tmp + rename)
  size_t rows() const { return rows_.size(); }

 private:
  std::string family_;
  std::vector<std::string> key_cols_, stat_cols_, extra_cols_;
  std::vector<std::string> rows_;
  std::vector<std::string> sample_rows_;
};

std::string fmtd(double v, int prec = 4);   // fixed-point
std::string fmtg(double v);                  // %.6g
std::string fmti(long long v);
void write_file_atomic(const std::string& path, const std::string& content);
void mkdir_p(const std::string& path);

// ---------------------------------------------------------------------------------------------
// Device memory owned by RAII; move-only.
class DevBuf {
 public:
  DevBuf() = default;
  explicit DevBuf(size_t bytes);
  ~DevBuf();
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
  DevBuf(DevBuf&& o) noexcept;
  DevBuf& operator=(DevBuf&& o) noexcept;
  template <class T>
  T* as() const { return static_cast<T*>(p_); }
  void* get() const { return p_; }
  size_t bytes() const { return bytes_; }

 private:
  void* p_ = nullptr;
  size_t bytes_ = 0;
};

// Host -> device copy that has fully landed when upload() returns (cudaMemcpy from pageable
// memory may return before its DMA completes; kernels then run on another stream).
template <class T>
DevBuf upload(const std::vector<T>& v) {
  DevBuf b(v.size() * sizeof(T));
  if (!v.empty()) CK(cudaMemcpy(b.get(), v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
  CK(cudaDeviceSynchronize());
  return b;
}
template <class T>
std::vector<T> download(const DevBuf& b, size_t n) {
  std::vector<T> v(n);
  if (n) CK(cudaMemcpy(v.data(), b.get(), n * sizeof(T), cudaMemcpyDeviceToHost));
  return v;
}
template <class T>
std::vector<T> download(const T* p, size_t n) {
  std::vector<T> v(n);
  if (n) CK(cudaMemcpy(v.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
  return v;
}

// Deterministic device-side random fills (hash of index and seed; no state). Values are never
// all zero (METHOD.md: zeros hide bugs and can run faster than real data).
void fill_half(half* p, size_t n, uint64_t seed, float lo, float hi, cudaStream_t s = nullptr);
void fill_bf16(__nv_bfloat16* p, size_t n, uint64_t seed, float lo, float hi, cudaStream_t s = nullptr);
void fill_fp8(uint8_t* p, size_t n, uint64_t seed, float lo, float hi, cudaStream_t s = nullptr);
void fill_float(float* p, size_t n, uint64_t seed, float lo, float hi, cudaStream_t s = nullptr);
void fill_bytes(void* p, size_t bytes, uint64_t seed, cudaStream_t s = nullptr);
// half2 pairs (x in [lo0,hi0], y in [lo1,hi1]): used for (scale, zero) quantization parameters.
void fill_half2(half2* p, size_t n, uint64_t seed, float lo0, float hi0, float lo1, float hi1,
                cudaStream_t s = nullptr);
void fill_int(int* p, size_t n, uint64_t seed, int lo, int hi, cudaStream_t s = nullptr);

// Host RNG (splitmix64) for reference inputs.
struct HostRng {
  uint64_t state;
  explicit HostRng(uint64_t seed) : state(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t next();
  double uniform(double lo, double hi);
  int uniform_int(int lo, int hi);  // inclusive
};

// ---------------------------------------------------------------------------------------------
// Correctness checks. Every check is recorded (DIR/checks.csv); a failure prints which check
// failed and exits with kExitCheckFailed before anything of that family is timed.
double rel_l2(const std::vector<double>& out, const std::vector<double>& ref);  // NaN-aware
void record_check(const std::string& family, const std::string& name, const std::string& metric,
                  double value, double tol, bool pass);
void require(bool pass, const std::string& family, const std::string& name,
             const std::string& metric, double value, double tol);
// Convenience: rel_l2(out, ref) <= tol, NaN fails.
void require_close(const std::string& family, const std::string& name,
                   const std::vector<double>& out, const std::vector<double>& ref, double tol);
void write_checks(const std::string& out_dir);
void set_checks_out_dir(const std::string& out_dir);  // where a failing check writes checks.csv

// Progress on stderr.
void logf(const char* fmt, ...);

// Bytes in GiB, for messages.
inline double gib(double bytes) { return bytes / (1024.0 * 1024.0 * 1024.0); }

inline int ceil_div(long long a, long long b) { return static_cast<int>((a + b - 1) / b); }

}  // namespace kvcal
