// libFuzzer target: the calibration bundle reader and fitter. The input is split at the
// first NUL into meta.json and one measurement table (the second byte picks the family).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "calibration/fit/fitter.h"
#include "sim/core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  static const char* families[] = {"gemm", "decode_attention", "prefill_attention", "elementwise",
                                   "compression", "copy", "launch"};
  const std::string family = families[data[0] % 7];
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto nul = body.find('\0');
  const std::string meta = nul == std::string::npos ? body : body.substr(0, nul);
  const std::string table = nul == std::string::npos ? "" : body.substr(nul + 1);
  namespace fs = std::filesystem;
  const fs::path dir = fs::path("/tmp") / ("kvsim_fuzz_bundle_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "meta.json", std::ios::binary) << meta;
  std::ofstream(dir / (family + ".csv"), std::ios::binary) << table;
  try {
    kvsim::fit_bundle(kvsim::load_bundle(dir.string()));
  } catch (const kvsim::InputError&) {
  }
  fs::remove_all(dir);
  return 0;
}
