#pragma once
// A GPU's datasheet numbers, as read from the catalog (models/catalog/gpus/*.yaml).
#include <cstdint>
#include <string>

namespace kvsim {

struct GpuSpec {
  std::string name;
  std::string display_name;
  std::string source;
  std::int64_t memory_bytes = 0;
  double hbm_bandwidth_gbps = 0;  // 1e9 bytes/s
  double fp16_tflops = 0;         // dense tensor-core
  double bf16_tflops = 0;
  double fp8_tflops = 0;          // 0: no fp8 tensor cores
  double fp32_tflops = 0;
  int num_sms = 0;
  std::int64_t l2_bytes = 0;
  // What the cross-GPU transfer matches on (calibration/transfer/gpu_match.h): lower-case
  // architecture generation (ampere, ada, hopper, blackwell), the die (GA100, GH100, ...),
  // CUDA compute capability, max boost SM clock and DRAM type (HBM2e, HBM3, GDDR6, ...).
  std::string architecture;
  std::string chip;
  std::string compute_capability;
  double boost_clock_mhz = 0;
  std::string memory_type;
  double host_link_gbps = 0;      // per direction
  double nvlink_gbps = 0;
  double tdp_watts = 0;
  double price_per_hour_usd = 0;  // placeholder unless the user overrides it
};

}  // namespace kvsim
