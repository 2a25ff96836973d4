// libFuzzer target: the CSV and JSONL trace readers (the first byte picks the format).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

#include "sim/core/error.h"
#include "traces/trace_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool jsonl = data[0] & 1;
  const std::string path = "/tmp/kvsim_fuzz_trace_" + std::to_string(::getpid()) + (jsonl ? ".jsonl" : ".csv");
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(data + 1), static_cast<std::streamsize>(size - 1));
  }
  try {
    kvsim::validate_trace(path);
  } catch (const kvsim::InputError&) {
  }
  std::remove(path.c_str());
  return 0;
}
