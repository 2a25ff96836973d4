// kvsim-calibrate: harness implementation. See common.cuh.
#include "common.cuh"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace kvcal {

// ---------------------------------------------------------------------------------------------
// Errors
void die_cuda(cudaError_t e, const char* what, const char* file, int line) {
  std::fprintf(stderr, "kvsim-calibrate: CUDA error %s (%s) at %s:%d: %s\n", cudaGetErrorName(e),
               cudaGetErrorString(e), file, line, what);
  std::exit(kExitRuntime);
}
void die_cublas(int status, const char* what, const char* file, int line) {
  std::fprintf(stderr, "kvsim-calibrate: cuBLAS error %d at %s:%d: %s\n", status, file, line, what);
  std::exit(kExitRuntime);
}
void die(const std::string& msg, int code) {
  std::fprintf(stderr, "kvsim-calibrate: %s\n", msg.c_str());
  std::exit(code);
}

void logf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fflush(stderr);
}

// ---------------------------------------------------------------------------------------------
// Model shapes
const std::vector<ModelShape>& builtin_shapes() {
  // From the model catalog (generate_shapes.cmake; ctest calibration_shapes_match_catalog).
  static const std::vector<ModelShape> shapes = {
#include "catalog_shapes.inc"
  };
  return shapes;
}

// ---------------------------------------------------------------------------------------------
// Stats
static double percentile_sorted(const std::vector<double>& v, double q) {
  if (v.empty()) return 0.0;
  double pos = q * static_cast<double>(v.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  size_t hi = std::min(lo + 1, v.size() - 1);
  double f = pos - static_cast<double>(lo);
  return v[lo] * (1.0 - f) + v[hi] * f;
}

void Stats::finalize() {
  std::vector<double> s = samples_us;
  std::sort(s.begin(), s.end());
  median = percentile_sorted(s, 0.5);
  p10 = percentile_sorted(s, 0.1);
  p90 = percentile_sorted(s, 0.9);
  min = s.empty() ? 0 : s.front();
  max = s.empty() ? 0 : s.back();
  double sum = 0;
  for (double x : s) sum += x;
  mean = s.empty() ? 0 : sum / static_cast<double>(s.size());
}

// ---------------------------------------------------------------------------------------------
// Timing
int Ctx::sets_for(size_t set_bytes) const {
  if (opt.dry_run) return 1;
  if (set_bytes == 0) return 1;
  size_t n = (cold_bytes() + set_bytes - 1) / set_bytes;
  return static_cast<int>(std::max<size_t>(1, std::min<size_t>(n, static_cast<size_t>(max_sets))));
}

Stats Ctx::time(const Enqueue& enqueue, int nsets, bool allow_graph, const Pacing& pacing) {
  Stats st;
  st.nsets = std::max(1, nsets);
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));

  // Warm-up 1: first launch (module load, cuBLAS heuristics, lazy init) outside any timing.
  enqueue(0, stream);
  CK_LAUNCH();
  CK(cudaStreamSynchronize(stream));

  // Estimate one launch's time from a few eager launches over different sets.
  int k = std::min(st.nsets, 4);
  CK(cudaEventRecord(e0, stream));
  for (int i = 0; i < k; ++i) enqueue(i % st.nsets, stream);
  CK(cudaEventRecord(e1, stream));
  CK_LAUNCH();
  CK(cudaEventSynchronize(e1));
  float ms = 0;
  CK(cudaEventElapsedTime(&ms, e0, e1));
  double t_est_us = std::max(1e-3, 1000.0 * ms / k);

  int inner = st.nsets;
  if (!opt.dry_run) {
    int want = static_cast<int>(std::ceil(target_rep_us / t_est_us));
    inner = std::max(inner, std::min(max_inner, std::max(1, want)));
  }
  st.inner = inner;

  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  bool use_graph = allow_graph;
  if (use_graph) {
    CK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    for (int i = 0; i < inner; ++i) enqueue(i % st.nsets, stream);
    cudaError_t ce = cudaStreamEndCapture(stream, &graph);
    if (ce == cudaSuccess) ce = cudaGraphInstantiate(&exec, graph, 0);
    if (ce != cudaSuccess) {
      logf("  (graph capture failed: %s; timing eager launches)\n", cudaGetErrorString(ce));
      (void)cudaGetLastError();
      if (graph) cudaGraphDestroy(graph);
      graph = nullptr;
      exec = nullptr;
      use_graph = false;
    }
  }
  auto run_once = [&]() {
    if (use_graph) {
      CK(cudaGraphLaunch(exec, stream));
    } else {
      for (int i = 0; i < inner; ++i) enqueue(i % st.nsets, stream);
    }
  };
  // Rest after a repetition that took rep_us (only when paced; dry runs never wait).
  auto rest = [&](double rep_us) {
    if (!pacing.paced() || opt.dry_run) return;
    const double idle_us = std::max(pacing.min_idle_us, pacing.idle_ratio * rep_us);
    std::this_thread::sleep_for(std::chrono::microseconds(static_cast<long long>(idle_us)));
  };
  for (int w = 0; w < warmup; ++w) {
    run_once();
    if (pacing.paced()) {
      CK(cudaStreamSynchronize(stream));
      rest(t_est_us * inner);
    }
  }
  CK_LAUNCH();
  CK(cudaStreamSynchronize(stream));

  st.samples_us.reserve(reps);
  for (int r = 0; r < reps; ++r) {
    CK(cudaEventRecord(e0, stream));
    run_once();
    CK(cudaEventRecord(e1, stream));
    CK(cudaEventSynchronize(e1));
    CK(cudaEventElapsedTime(&ms, e0, e1));
    st.samples_us.push_back(1000.0 * ms / inner);
    rest(1000.0 * ms);
  }
  CK_LAUNCH();
  if (exec) CK(cudaGraphExecDestroy(exec));
  if (graph) CK(cudaGraphDestroy(graph));
  CK(cudaEventDestroy(e0));
  CK(cudaEventDestroy(e1));
  st.finalize();
  return st;
}

// ---------------------------------------------------------------------------------------------
// Formatting and files
std::string fmtd(double v, int prec) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}
std::string fmtg(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}
std::string fmti(long long v) { return std::to_string(v); }

void mkdir_p(const std::string& path) {
  if (path.empty()) return;
  std::string cur;
  std::stringstream ss(path);
  std::string part;
  if (path[0] == '/') cur = "/";
  while (std::getline(ss, part, '/')) {
    if (part.empty()) continue;
    cur += part;
    if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST)
      die("cannot create directory " + cur + ": " + std::strerror(errno));
    cur += "/";
  }
}

void write_file_atomic(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) die("cannot write " + tmp);
    f << content;
    f.flush();
    if (!f) die("write failed: " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) die("cannot rename " + tmp + " -> " + path);
}

Table::Table(std::string family, std::vector<std::string> key_cols, std::vector<std::string> extra_cols)
    : family_(std::move(family)), key_cols_(std::move(key_cols)),
      stat_cols_({"time_us_median", "time_us_p10", "time_us_p90", "reps"}),
      extra_cols_(std::move(extra_cols)) {}

void Table::add(const std::vector<std::string>& keys, const Stats& st, const std::vector<std::string>& extras) {
  if (keys.size() != key_cols_.size() || extras.size() != extra_cols_.size())
    die("internal: table " + family_ + " row has the wrong number of columns");
  std::string k;
  for (size_t i = 0; i < keys.size(); ++i) k += (i ? "," : "") + keys[i];
  std::string row = k + "," + fmtd(st.median, 3) + "," + fmtd(st.p10, 3) + "," + fmtd(st.p90, 3) + "," +
                    fmti(static_cast<long long>(st.samples_us.size()));
  for (const auto& e : extras) row += "," + e;
  row += "," + fmti(st.inner) + "," + fmti(st.nsets);
  rows_.push_back(row);
  for (size_t r = 0; r < st.samples_us.size(); ++r)
    sample_rows_.push_back(k + "," + fmti(static_cast<long long>(r)) + "," + fmtd(st.samples_us[r], 4));
}

void Table::write(const std::string& out_dir) const {
  std::string h;
  for (size_t i = 0; i < key_cols_.size(); ++i) h += (i ? "," : "") + key_cols_[i];
  std::string sh = h + ",rep,time_us\n";
  for (const auto& c : stat_cols_) h += "," + c;
  for (const auto& c : extra_cols_) h += "," + c;
  h += ",launches_per_rep,input_sets\n";
  std::string body = h;
  for (const auto& r : rows_) body += r + "\n";
  write_file_atomic(out_dir + "/" + family_ + ".csv", body);
  std::string sbody = sh;
  for (const auto& r : sample_rows_) sbody += r + "\n";
  mkdir_p(out_dir + "/samples");
  write_file_atomic(out_dir + "/samples/" + family_ + ".csv", sbody);
}

// ---------------------------------------------------------------------------------------------
// Device buffers
DevBuf::DevBuf(size_t bytes) : bytes_(bytes) {
  if (bytes) {
    cudaError_t e = cudaMalloc(&p_, bytes);
    if (e != cudaSuccess) {
      char b[160];
      std::snprintf(b, sizeof b, "cudaMalloc of %.3f GiB failed: %s", gib(static_cast<double>(bytes)),
                    cudaGetErrorString(e));
      die(b);
    }
  }
}
DevBuf::~DevBuf() {
  if (p_) cudaFree(p_);
}
DevBuf::DevBuf(DevBuf&& o) noexcept : p_(o.p_), bytes_(o.bytes_) {
  o.p_ = nullptr;
  o.bytes_ = 0;
}
DevBuf& DevBuf::operator=(DevBuf&& o) noexcept {
  if (this != &o) {
    if (p_) cudaFree(p_);
    p_ = o.p_;
    bytes_ = o.bytes_;
    o.p_ = nullptr;
    o.bytes_ = 0;
  }
  return *this;
}

// ---------------------------------------------------------------------------------------------
// Random fills
__device__ __forceinline__ uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
__device__ __forceinline__ float unit_float(uint64_t h) {  // [0,1)
  return static_cast<float>(h >> 40) * (1.0f / 16777216.0f);
}

static unsigned fill_blocks(size_t n) {
  size_t b = (n + 255) / 256;
  return static_cast<unsigned>(std::max<size_t>(1, std::min<size_t>(b, 132 * 64)));
}

__global__ void k_fill_half(half* p, size_t n, uint64_t seed, float lo, float hi) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    p[i] = __float2half(lo + (hi - lo) * unit_float(mix64(seed ^ (i * 0xD1B54A32D192ED03ull))));
}
__global__ void k_fill_bf16(__nv_bfloat16* p, size_t n, uint64_t seed, float lo, float hi) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    p[i] = __float2bfloat16(lo + (hi - lo) * unit_float(mix64(seed ^ (i * 0xD1B54A32D192ED03ull))));
}
__global__ void k_fill_fp8(uint8_t* p, size_t n, uint64_t seed, float lo, float hi) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    float v = lo + (hi - lo) * unit_float(mix64(seed ^ (i * 0xD1B54A32D192ED03ull)));
    p[i] = static_cast<uint8_t>(__nv_cvt_float_to_fp8(v, __NV_SATFINITE, __NV_E4M3));
  }
}
__global__ void k_fill_float(float* p, size_t n, uint64_t seed, float lo, float hi) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    p[i] = lo + (hi - lo) * unit_float(mix64(seed ^ (i * 0xD1B54A32D192ED03ull)));
}
__global__ void k_fill_u32(uint32_t* p, size_t n, uint64_t seed) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    p[i] = static_cast<uint32_t>(mix64(seed ^ (i * 0xD1B54A32D192ED03ull)) >> 16);
}
__global__ void k_fill_u8(uint8_t* p, size_t n, uint64_t seed) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    p[i] = static_cast<uint8_t>(mix64(seed ^ (i * 0xD1B54A32D192ED03ull)) >> 24);
}
__global__ void k_fill_half2(half2* p, size_t n, uint64_t seed, float lo0, float hi0, float lo1, float hi1) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    uint64_t h = mix64(seed ^ (i * 0xD1B54A32D192ED03ull));
    float a = lo0 + (hi0 - lo0) * unit_float(h);
    float b = lo1 + (hi1 - lo1) * unit_float(mix64(h));
    p[i] = __floats2half2_rn(a, b);
  }
}
__global__ void k_fill_int(int* p, size_t n, uint64_t seed, int lo, int hi) {
  uint64_t span = static_cast<uint64_t>(static_cast<long long>(hi) - lo + 1);
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    p[i] = lo + static_cast<int>(mix64(seed ^ (i * 0xD1B54A32D192ED03ull)) % span);
}

void fill_half(half* p, size_t n, uint64_t seed, float lo, float hi, cudaStream_t s) {
  if (!n) return;
  k_fill_half<<<fill_blocks(n), 256, 0, s>>>(p, n, seed, lo, hi);
  CK_LAUNCH();
}
void fill_bf16(__nv_bfloat16* p, size_t n, uint64_t seed, float lo, float hi, cudaStream_t s) {
  if (!n) return;
  k_fill_bf16<<<fill_blocks(n), 256, 0, s>>>(p, n, seed, lo, hi);
  CK_LAUNCH();
}
void fill_fp8(uint8_t* p, size_t n, uint64_t seed, float lo, float hi, cudaStream_t s) {
  if (!n) return;
  k_fill_fp8<<<fill_blocks(n), 256, 0, s>>>(p, n, seed, lo, hi);
  CK_LAUNCH();
}
void fill_float(float* p, size_t n, uint64_t seed, float lo, float hi, cudaStream_t s) {
  if (!n) return;
  k_fill_float<<<fill_blocks(n), 256, 0, s>>>(p, n, seed, lo, hi);
  CK_LAUNCH();
}
void fill_bytes(void* p, size_t bytes, uint64_t seed, cudaStream_t s) {
  if (!bytes) return;
  size_t words = bytes / 4;
  if (words) {
    k_fill_u32<<<fill_blocks(words), 256, 0, s>>>(static_cast<uint32_t*>(p), words, seed);
    CK_LAUNCH();
  }
  size_t tail = bytes - words * 4;
  if (tail) {
    k_fill_u8<<<1, 32, 0, s>>>(static_cast<uint8_t*>(p) + words * 4, tail, seed + 1);
    CK_LAUNCH();
  }
}
void fill_half2(half2* p, size_t n, uint64_t seed, float lo0, float hi0, float lo1, float hi1, cudaStream_t s) {
  if (!n) return;
  k_fill_half2<<<fill_blocks(n), 256, 0, s>>>(p, n, seed, lo0, hi0, lo1, hi1);
  CK_LAUNCH();
}
void fill_int(int* p, size_t n, uint64_t seed, int lo, int hi, cudaStream_t s) {
  if (!n) return;
  k_fill_int<<<fill_blocks(n), 256, 0, s>>>(p, n, seed, lo, hi);
  CK_LAUNCH();
}

uint64_t HostRng::next() {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
double HostRng::uniform(double lo, double hi) {
  return lo + (hi - lo) * (static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0));
}
int HostRng::uniform_int(int lo, int hi) {
  return lo + static_cast<int>(next() % static_cast<uint64_t>(static_cast<long long>(hi) - lo + 1));
}

// ---------------------------------------------------------------------------------------------
// Checks
namespace {
struct CheckRecord {
  std::string family, name, metric;
  double value, tol;
  bool pass;
};
std::vector<CheckRecord>& check_log() {
  static std::vector<CheckRecord> v;
  return v;
}
std::string& checks_dir() {
  static std::string d;
  return d;
}
}  // namespace

double rel_l2(const std::vector<double>& out, const std::vector<double>& ref) {
  if (out.size() != ref.size()) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (!std::isfinite(out[i])) return NAN;
    double d = out[i] - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  if (den == 0) return num == 0 ? 0.0 : INFINITY;
  return std::sqrt(num / den);
}

void set_checks_out_dir(const std::string& out_dir) { checks_dir() = out_dir; }

void record_check(const std::string& family, const std::string& name, const std::string& metric,
                  double value, double tol, bool pass) {
  check_log().push_back({family, name, metric, value, tol, pass});
  logf("  check %-10s %-44s %s=%.3g (tol %.3g) %s\n", family.c_str(), name.c_str(), metric.c_str(),
       value, tol, pass ? "ok" : "FAILED");
}

void write_checks(const std::string& out_dir) {
  std::string s = "family,check,metric,value,tolerance,pass\n";
  for (const auto& c : check_log())
    s += c.family + "," + c.name + "," + c.metric + "," + fmtg(c.value) + "," + fmtg(c.tol) + "," +
         (c.pass ? "1" : "0") + "\n";
  write_file_atomic(out_dir + "/checks.csv", s);
}

void require(bool pass, const std::string& family, const std::string& name, const std::string& metric,
             double value, double tol) {
  record_check(family, name, metric, value, tol, pass);
  if (!pass) {
    std::fprintf(stderr,
                 "kvsim-calibrate: CHECK FAILED: family %s, kernel %s: %s = %.6g exceeds tolerance %.3g.\n"
                 "  Nothing of this family was timed; fix the kernel before calibrating.\n",
                 family.c_str(), name.c_str(), metric.c_str(), value, tol);
    if (!checks_dir().empty()) write_checks(checks_dir());
    std::exit(kExitCheckFailed);
  }
}

void require_close(const std::string& family, const std::string& name, const std::vector<double>& out,
                   const std::vector<double>& ref, double tol) {
  double e = rel_l2(out, ref);
  require(std::isfinite(e) && e <= tol, family, name, "rel_l2", e, tol);
}

}  // namespace kvcal
