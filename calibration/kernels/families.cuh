// Benchmark families. Each run_* first checks its kernels against CPU references (exiting with
// kExitCheckFailed on a mismatch), then times its grid and writes DIR/<family>.csv and
// DIR/samples/<family>.csv. `grid` receives a short JSON description of the grid used.
#pragma once

#include <string>

#include "../harness/common.cuh"

namespace kvcal {

void run_gemm(Ctx& ctx, std::string& grid);
void run_decode_attention(Ctx& ctx, std::string& grid);
void run_prefill_attention(Ctx& ctx, std::string& grid);
void run_compression(Ctx& ctx, std::string& grid);
void run_elementwise(Ctx& ctx, std::string& grid);
void run_copy(Ctx& ctx, std::string& grid);
void run_launch(Ctx& ctx, std::string& grid);

// JSON helpers for grid descriptions.
std::string json_int_list(const std::vector<long long>& v);
std::string json_str_list(const std::vector<std::string>& v);

}  // namespace kvcal
