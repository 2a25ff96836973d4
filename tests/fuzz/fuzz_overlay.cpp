// libFuzzer target: kvsim calibrate overlay's source reader and checks. A fixed, valid base
// bundle (written once) is extended in memory by one or two fuzzed source tables: the first
// byte picks each source's family (all seven, so refused families are exercised too), the rest
// is split at the first NUL into the two CSVs. The result is fitted, as the command does.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "calibration/fit/bundle_overlay.h"
#include "calibration/fit/fitter.h"
#include "sim/core/error.h"

namespace {

namespace fs = std::filesystem;

const char* kFamilies[] = {"gemm", "prefill_attention", "decode_attention", "elementwise", "compression", "copy", "launch"};

// A small valid bundle: five GEMM operators in fp16 and one flash prefill grid.
std::string base_bundle() {
  const fs::path dir = fs::path("/tmp") / ("kvsim_fuzz_overlay_base_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "meta.json") << R"({"schema_version": 1, "gpu_name": "NVIDIA H200", "sm_count": 132, )"
                                   << R"("memory_bytes": 150754820096, "date_utc": "2026-11-29T00:00:00Z", )"
                                   << R"("model_shape": {"name": "llama-3-8b"}})";
  std::ofstream g(dir / "gemm.csv");
  g << "op,dtype,m,n,k,time_us_median\n";
  for (const char* op : {"qkv", "o", "gate_up", "down", "lm_head"}) {
    for (int m : {1, 16, 256, 4096}) g << op << ",fp16," << m << ",4096,4096," << 8 + 0.004 * m << "\n";
  }
  std::ofstream p(dir / "prefill_attention.csv");
  p << "variant,new_tokens,cached_tokens,time_us_median\n";
  for (int n : {128, 1024, 8192}) {
    for (int c : {0, 2048}) p << "flash," << n << "," << c << "," << 10 + 0.01 * n + 1e-6 * n * (n + c) << "\n";
  }
  return dir.string();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const kvsim::Bundle base = kvsim::load_bundle(base_bundle());
  if (size < 2) return 0;
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto nul = body.find('\0');
  const std::string first = nul == std::string::npos ? body : body.substr(0, nul);
  const fs::path dir = fs::path("/tmp") / ("kvsim_fuzz_overlay_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::vector<kvsim::OverlaySource> sources = {{kFamilies[data[0] % 7], (dir / "a.csv").string()}};
  std::ofstream(sources[0].csv, std::ios::binary) << first;
  if (nul != std::string::npos) {
    sources.push_back({kFamilies[(data[0] / 7) % 7], (dir / "b.csv").string()});
    std::ofstream(sources[1].csv, std::ios::binary) << body.substr(nul + 1);
  }
  try {
    kvsim::fit_bundle(kvsim::with_overlay(base, sources));
  } catch (const kvsim::InputError&) {
  }
  fs::remove_all(dir);
  return 0;
}
