// kvsim-calibrate: CUDA microbenchmarks that calibrate kvsim's cost model.
//
//   kvsim-calibrate --model-shape NAME|all --out DIR [--quick] [--dry-run] [--only FAMILY,...]
//
// Writes DIR/meta.json, DIR/<family>.csv, DIR/samples/<family>.csv and DIR/checks.csv (with
// --model-shape all: one such bundle per shape under DIR/<shape>/). See calibration/README.md.
#include <sys/utsname.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "harness/common.cuh"
#include "kernels/families.cuh"

namespace kvcal {

std::string json_int_list(const std::vector<long long>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}
std::string json_escape(const std::string& in) {
  std::string o;
  for (char c : in) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else {
      o += c;
    }
  }
  return o;
}
std::string json_str_list(const std::vector<std::string>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ",\"" : "\"") + json_escape(v[i]) + "\"";
  return s + "]";
}

namespace {

constexpr const char* kToolVersion = "1.0.0";

struct Family {
  const char* name;
  void (*run)(Ctx&, std::string&);
};
const std::vector<Family>& families() {
  static const std::vector<Family> f = {
      {"gemm", run_gemm},         {"decode_attention", run_decode_attention}, {"prefill_attention", run_prefill_attention},
      {"compression", run_compression}, {"elementwise", run_elementwise},     {"copy", run_copy},
      {"launch", run_launch}};
  return f;
}

void usage(FILE* f) {
  std::fprintf(f,
               "usage: kvsim-calibrate --model-shape NAME|all --out DIR [options]\n"
               "\n"
               "CUDA microbenchmarks for kvsim's cost model. Every kernel is checked against a CPU\n"
               "reference before it is timed; a failed check exits with status 3.\n"
               "\n"
               "options:\n"
               "  --model-shape NAME   llama-2-7b | llama-3-8b | llama-3-70b-tp4 | llama-3-70b-tp8 | all\n"
               "  --out DIR            output directory (created); 'all' writes DIR/<shape>/\n"
               "  --quick              small grid for a first smoke test (20 reps)\n"
               "  --dry-run            every kernel once at tiny sizes with CPU checks (3 reps)\n"
               "  --only F1,F2         families: gemm,decode_attention,prefill_attention,compression,\n"
               "                       elementwise,copy,launch (default: all)\n"
               "  --reps N             timed repetitions per point (default 30; quick 20; dry-run 3)\n"
               "  --warmup N           untimed graph replays before timing (default 3; quick 2; dry-run 1)\n"
               "  --max-kv-gb X        skip decode points whose device footprint exceeds X GB (default 40)\n"
               "  --device N           CUDA device (default 0)\n"
               "  --no-smi             do not query nvidia-smi for clocks/temperature\n"
               "  --help               this text\n"
               "exit status: 0 ok, 1 CUDA/cuBLAS/IO error, 2 bad command line, 3 a kernel failed its check\n");
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return b;
}

// Clock/temperature snapshot through nvidia-smi (read-only query; empty if unavailable).
std::string smi_snapshot(bool enabled) {
  if (!enabled) return "";
  FILE* p = popen(
      "nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,temperature.gpu,power.draw,pstate"
      " --format=csv,noheader 2>/dev/null",
      "r");
  if (!p) return "";
  char buf[512];
  std::string out;
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::string shape_json(const ModelShape& m) {
  std::ostringstream o;
  o << "{\"name\":\"" << m.name << "\",\"layers\":" << m.layers << ",\"hidden\":" << m.hidden << ",\"num_q_heads\":" << m.q_heads
    << ",\"num_kv_heads\":" << m.kv_heads << ",\"head_dim\":" << m.head_dim << ",\"ffn\":" << m.ffn
    << ",\"vocab_shard\":" << m.vocab << ",\"vocab\":" << m.full_vocab << ",\"tp\":" << m.tp << "}";
  return o.str();
}

struct RunRecord {
  std::vector<std::string> done;
  std::map<std::string, std::string> grid;
  std::map<std::string, double> seconds;
  std::vector<std::pair<std::string, std::string>> smi;  // (when, snapshot)
};

void write_meta(const Ctx& ctx, const RunRecord& rr, const std::string& status, const std::string& cmdline,
                const std::string& started) {
  const DeviceInfo& d = ctx.dev;
  std::ostringstream o;
  o << "{\n  \"schema_version\": 1,\n  \"tool\": \"kvsim-calibrate\",\n  \"tool_version\": \"" << kToolVersion << "\",\n";
  o << "  \"status\": \"" << status << "\",\n";
  o << "  \"gpu_name\": \"" << json_escape(d.prop.name) << "\",\n";
  o << "  \"sm_count\": " << d.sm_count << ",\n";
  o << "  \"compute_capability\": \"" << d.prop.major << "." << d.prop.minor << "\",\n";
  o << "  \"memory_bytes\": " << d.prop.totalGlobalMem << ",\n";
  o << "  \"l2_bytes\": " << d.l2_bytes << ",\n";
  o << "  \"shared_mem_per_block_optin\": " << d.prop.sharedMemPerBlockOptin << ",\n";
  o << "  \"clock_khz\": " << d.clock_khz << ",\n";
  o << "  \"mem_clock_khz\": " << d.mem_clock_khz << ",\n";
  o << "  \"mem_bus_width\": " << d.mem_bus_width << ",\n";
  o << "  \"driver_version\": " << d.driver_version << ",\n";
  o << "  \"runtime_version\": " << d.runtime_version << ",\n";
  o << "  \"cublas_version\": " << d.cublas_version << ",\n";
  o << "  \"cublaslt_version\": " << d.cublaslt_version << ",\n";
  o << "  \"date_utc\": \"" << started << "\",\n";
  o << "  \"date_utc_end\": \"" << utc_now() << "\",\n";
  struct utsname u{};
  if (uname(&u) == 0) o << "  \"host\": \"" << json_escape(std::string(u.sysname) + " " + u.release) << "\",\n";
  o << "  \"command_line\": \"" << json_escape(cmdline) << "\",\n";
  o << "  \"model_shape\": " << shape_json(ctx.shape) << ",\n";
  o << "  \"grid\": {";
  bool first = true;
  for (const auto& kv : rr.grid) {
    o << (first ? "\n    " : ",\n    ") << "\"" << kv.first << "\": " << kv.second;
    first = false;
  }
  o << (rr.grid.empty() ? "},\n" : "\n  },\n");
  o << "  \"families\": " << json_str_list(rr.done) << ",\n";
  o << "  \"family_seconds\": {";
  first = true;
  for (const auto& kv : rr.seconds) {
    o << (first ? "" : ", ") << "\"" << kv.first << "\": " << fmtd(kv.second, 2);
    first = false;
  }
  o << "},\n";
  o << "  \"clocks_nvidia_smi\": {\"query\": \"clocks.sm,clocks.mem,clocks.max.sm,temperature.gpu,power.draw,pstate\", \"samples\": [";
  for (size_t i = 0; i < rr.smi.size(); ++i)
    o << (i ? ", " : "") << "{\"when\": \"" << json_escape(rr.smi[i].first) << "\", \"value\": \"" << json_escape(rr.smi[i].second)
      << "\"}";
  o << "]},\n";
  o << "  \"timing\": {\"method\": \"CUDA graph of launches_per_rep launches rotating over input_sets L2-cold input sets, "
       "replayed between two CUDA events; per-launch time = elapsed / launches_per_rep\", \"cold_bytes\": "
    << ctx.cold_bytes() << ", \"target_rep_us\": " << fmtd(ctx.target_rep_us, 0) << "},\n";
  o << "  \"reps\": " << ctx.reps << ",\n  \"warmup\": " << ctx.warmup << ",\n";
  o << "  \"quick\": " << (ctx.opt.quick ? "true" : "false") << ",\n";
  o << "  \"dry_run\": " << (ctx.opt.dry_run ? "true" : "false") << ",\n";
  o << "  \"max_kv_gb\": " << fmtg(ctx.opt.max_kv_gb) << "\n}\n";
  write_file_atomic(ctx.opt.out_dir + "/meta.json", o.str());
}

int parse_int(const std::string& flag, const char* v) {
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  if (!v[0] || *end || x < 0 || x > 1000000) die("bad value for " + flag + ": " + v, kExitUsage);
  return static_cast<int>(x);
}

}  // namespace
}  // namespace kvcal

int main(int argc, char** argv) {
  using namespace kvcal;
  Options opt;
  bool smi = true;
  std::string cmdline;
  for (int i = 0; i < argc; ++i) cmdline += (i ? " " : "") + std::string(argv[i]);
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto need = [&](const char* what) -> const char* {
      if (i + 1 >= argc) die(std::string("missing value for ") + what, kExitUsage);
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else if (a == "--model-shape") {
      opt.model_shape = need("--model-shape");
    } else if (a == "--out") {
      opt.out_dir = need("--out");
    } else if (a == "--quick") {
      opt.quick = true;
    } else if (a == "--dry-run") {
      opt.dry_run = true;
    } else if (a == "--only") {
      std::stringstream ss(need("--only"));
      std::string f;
      while (std::getline(ss, f, ',')) {
        if (f.empty()) continue;
        bool known = false;
        for (const auto& fam : families()) known |= f == fam.name;
        if (!known) die("unknown family '" + f + "' (see --help)", kExitUsage);
        opt.only.insert(f);
      }
    } else if (a == "--reps") {
      opt.reps = parse_int(a, need("--reps"));
    } else if (a == "--warmup") {
      opt.warmup = parse_int(a, need("--warmup"));
    } else if (a == "--max-kv-gb") {
      const char* v = need("--max-kv-gb");
      opt.max_kv_gb = std::atof(v);
      if (!(opt.max_kv_gb > 0)) die(std::string("bad value for --max-kv-gb: ") + v, kExitUsage);
    } else if (a == "--device") {
      opt.device = parse_int(a, need("--device"));
    } else if (a == "--no-smi") {
      smi = false;
    } else {
      std::fprintf(stderr, "kvsim-calibrate: unknown argument '%s'\n\n", a.c_str());
      usage(stderr);
      return kExitUsage;
    }
  }
  if (opt.model_shape.empty() || opt.out_dir.empty()) {
    usage(stderr);
    return kExitUsage;
  }
  std::vector<ModelShape> shapes;
  for (const auto& s : builtin_shapes())
    if (opt.model_shape == "all" || opt.model_shape == s.name) shapes.push_back(s);
  if (shapes.empty()) die("unknown model shape '" + opt.model_shape + "' (see --help)", kExitUsage);
  if (opt.quick && opt.dry_run) die("--quick and --dry-run are exclusive", kExitUsage);

  // Device and libraries.
  DeviceInfo dev;
  dev.device = opt.device;
  CK(cudaSetDevice(opt.device));
  CK(cudaGetDeviceProperties(&dev.prop, opt.device));
  dev.sm_count = dev.prop.multiProcessorCount;
  dev.l2_bytes = static_cast<size_t>(dev.prop.l2CacheSize);
  CK(cudaDeviceGetAttribute(&dev.clock_khz, cudaDevAttrClockRate, opt.device));
  CK(cudaDeviceGetAttribute(&dev.mem_clock_khz, cudaDevAttrMemoryClockRate, opt.device));
  CK(cudaDeviceGetAttribute(&dev.mem_bus_width, cudaDevAttrGlobalMemoryBusWidth, opt.device));
  CK(cudaDriverGetVersion(&dev.driver_version));
  CK(cudaRuntimeGetVersion(&dev.runtime_version));
  if (dev.prop.major < 8)
    die("kvsim-calibrate needs compute capability 8.0 or newer (mma.sync, cp.async)");
  logf("kvsim-calibrate %s on %s (sm_%d%d, %d SMs, %.1f GiB, L2 %.1f MiB)\n", kToolVersion, dev.prop.name, dev.prop.major,
       dev.prop.minor, dev.sm_count, gib(static_cast<double>(dev.prop.totalGlobalMem)), dev.l2_bytes / 1048576.0);

  Ctx ctx;
  ctx.opt = opt;
  ctx.dev = dev;
  CK(cudaStreamCreate(&ctx.stream));  // blocking: orders with the legacy stream used by cudaMemcpy
  CKB(cublasCreate(&ctx.blas));
  CKB(cublasLtCreate(&ctx.lt));
  CKB(cublasGetVersion(ctx.blas, &ctx.dev.cublas_version));
  ctx.dev.cublaslt_version = cublasLtGetVersion();
  CK(cudaMalloc(&ctx.blas_ws, ctx.blas_ws_bytes));
  CKB(cublasSetWorkspace(ctx.blas, ctx.blas_ws, ctx.blas_ws_bytes));
  CKB(cublasSetStream(ctx.blas, ctx.stream));
  if (opt.dry_run) {
    ctx.reps = 3;
    ctx.warmup = 1;
  } else if (opt.quick) {
    ctx.reps = 20;
    ctx.warmup = 2;
    ctx.target_rep_us = 500;
  }
  if (opt.reps) ctx.reps = opt.reps;
  if (opt.warmup) ctx.warmup = opt.warmup;
  if (ctx.reps < 20 && !opt.dry_run)
    logf("warning: %d repetitions per point; METHOD asks for at least 20 for a calibration bundle\n", ctx.reps);

  const auto t_all = std::chrono::steady_clock::now();
  for (const ModelShape& shape : shapes) {
    ctx.shape = shape;
    ctx.opt.out_dir = shapes.size() > 1 ? opt.out_dir + "/" + shape.name : opt.out_dir;
    mkdir_p(ctx.opt.out_dir);
    mkdir_p(ctx.opt.out_dir + "/samples");
    set_checks_out_dir(ctx.opt.out_dir);
    logf("== model shape %s (h %d, q %d, kv %d, d %d, ffn %d, vocab shard %d) -> %s\n", shape.name.c_str(), shape.hidden,
         shape.q_heads, shape.kv_heads, shape.head_dim, shape.ffn, shape.vocab, ctx.opt.out_dir.c_str());
    const std::string started = utc_now();
    RunRecord rr;
    rr.smi.push_back({"start " + started, smi_snapshot(smi)});
    write_meta(ctx, rr, "running", cmdline, started);
    for (const auto& fam : families()) {
      if (!opt.only.empty() && !opt.only.count(fam.name)) continue;
      const auto t0 = std::chrono::steady_clock::now();
      logf("-- %s\n", fam.name);
      std::string grid;
      fam.run(ctx, grid);
      CK(cudaDeviceSynchronize());
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      rr.done.push_back(fam.name);
      rr.grid[fam.name] = grid.empty() ? "{}" : grid;
      rr.seconds[fam.name] = secs;
      rr.smi.push_back({std::string("after ") + fam.name + " " + utc_now(), smi_snapshot(smi)});
      write_checks(ctx.opt.out_dir);
      write_meta(ctx, rr, "running", cmdline, started);
      logf("-- %s done in %.1f s\n", fam.name, secs);
    }
    write_meta(ctx, rr, "complete", cmdline, started);
  }
  logf("done in %.1f s\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - t_all).count());
  CKB(cublasLtDestroy(ctx.lt));
  CKB(cublasDestroy(ctx.blas));
  CK(cudaFree(ctx.blas_ws));
  CK(cudaStreamDestroy(ctx.stream));
  return 0;
}
