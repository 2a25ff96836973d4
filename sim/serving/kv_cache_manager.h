#pragma once
// The paged KV block pool of one replica (GPU blocks plus a CPU swap pool). It accounts in
// whole blocks; which request holds how many is tracked by the replica, which checks that
// the two agree. Law: used + free == capacity, on both pools, at all times.
#include <cstdint>

#include "sim/core/error.h"

namespace kvsim {

class KvCacheManager {
 public:
  KvCacheManager(std::int64_t num_gpu_blocks, int block_size, double watermark_fraction, std::int64_t num_cpu_blocks);

  static std::int64_t blocks_for(std::int64_t tokens, int block_size) {
    return tokens <= 0 ? 0 : (tokens + block_size - 1) / block_size;
  }
  std::int64_t blocks_for(std::int64_t tokens) const { return blocks_for(tokens, block_size_); }

  int block_size() const { return block_size_; }
  std::int64_t capacity() const { return capacity_; }
  std::int64_t used() const { return used_; }
  std::int64_t free() const { return capacity_ - used_; }
  std::int64_t watermark_blocks() const { return watermark_; }
  std::int64_t cpu_capacity() const { return cpu_capacity_; }
  std::int64_t cpu_used() const { return cpu_used_; }
  std::int64_t cpu_free() const { return cpu_capacity_ - cpu_used_; }

  // vLLM V0 admission rule: OK only if free - n >= watermark.
  bool can_allocate_with_watermark(std::int64_t n) const { return free() - n >= watermark_; }
  // A request needing n blocks can never be admitted (capacity - n < watermark).
  bool never_fits(std::int64_t n) const { return capacity_ - n < watermark_; }

  // Check-then-act: the caller has checked; failure here is a broken law, not a condition.
  void allocate(std::int64_t n);
  void release(std::int64_t n);
  // Moves n blocks GPU -> CPU (swap out) and back (swap in).
  void swap_out(std::int64_t n);
  void swap_in(std::int64_t n);

 private:
  std::int64_t capacity_;
  int block_size_;
  std::int64_t watermark_;
  std::int64_t used_ = 0;
  std::int64_t cpu_capacity_;
  std::int64_t cpu_used_ = 0;
};

}  // namespace kvsim
