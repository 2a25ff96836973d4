#include "sim/serving/kv_cache_manager.h"

#include <string>

namespace kvsim {

KvCacheManager::KvCacheManager(std::int64_t num_gpu_blocks, int block_size, double watermark_fraction,
                               std::int64_t num_cpu_blocks)
    : capacity_(num_gpu_blocks),
      block_size_(block_size),
      watermark_(static_cast<std::int64_t>(watermark_fraction * static_cast<double>(num_gpu_blocks))),
      cpu_capacity_(num_cpu_blocks) {}

void KvCacheManager::allocate(std::int64_t n) {
  if (n < 0 || n > free()) {
    throw InvariantViolation("KV allocation of " + std::to_string(n) + " blocks with only " + std::to_string(free()) +
                             " free (capacity " + std::to_string(capacity_) + ")");
  }
  used_ += n;
}

void KvCacheManager::release(std::int64_t n) {
  if (n < 0 || n > used_) {
    throw InvariantViolation("KV release of " + std::to_string(n) + " blocks with only " + std::to_string(used_) +
                             " in use");
  }
  used_ -= n;
}

void KvCacheManager::swap_out(std::int64_t n) {
  if (n > cpu_free()) throw InvariantViolation("swap-out of " + std::to_string(n) + " blocks exceeds CPU swap space");
  release(n);
  cpu_used_ += n;
}

void KvCacheManager::swap_in(std::int64_t n) {
  if (n > cpu_used_) throw InvariantViolation("swap-in of more blocks than are swapped out");
  allocate(n);
  cpu_used_ -= n;
}

}  // namespace kvsim
