#include "sim/serving/decode_pool.h"

#include <limits>

#include "sim/core/error.h"

namespace kvsim {

namespace {
std::int64_t mod(std::int64_t a, std::int64_t m) {
  const std::int64_t r = a % m;
  return r < 0 ? r + m : r;
}
}  // namespace

DecodePool::DecodePool(std::vector<RequestState>& slots, int block_size)
    : slots_(slots), block_size_(block_size), phase_hist_(static_cast<std::size_t>(block_size), 0) {}

void DecodePool::add(std::int32_t slot) {
  RequestState& r = slots_[static_cast<std::size_t>(slot)];
  if (r.decoding) throw InvariantViolation("request added to the decode pool twice");
  if (r.generated >= r.target_output) throw InvariantViolation("finished request added to the decode pool");
  r.decoding = true;
  r.kv_key = r.kv_tokens - steps_;
  r.gen_key = r.generated - steps_;
  ++count_;
  key_sum_ += r.kv_key;
  keys_.insert(r.kv_key);
  ++phase_hist_[static_cast<std::size_t>(mod(r.kv_key, block_size_))];
  finish_.push({r.target_output - r.gen_key, slot, r.epoch});
}

void DecodePool::remove(std::int32_t slot) {
  RequestState& r = slots_[static_cast<std::size_t>(slot)];
  if (!r.decoding) throw InvariantViolation("request removed from the decode pool but not in it");
  r.kv_tokens = kv_tokens(r);
  r.generated = generated(r);
  r.blocks = (r.kv_tokens + block_size_ - 1) / block_size_;
  r.decoding = false;
  ++r.epoch;
  --count_;
  key_sum_ -= r.kv_key;
  keys_.erase(keys_.find(r.kv_key));
  --phase_hist_[static_cast<std::size_t>(mod(r.kv_key, block_size_))];
}

std::int64_t DecodePool::blocks(const RequestState& r) const {
  return (kv_tokens(r) + block_size_ - 1) / block_size_;
}

std::int64_t DecodePool::blocks_needed_next_step() const {
  // kv_key + steps == 0 (mod block_size)  <=>  kv_key == -steps (mod block_size)
  return phase_hist_[static_cast<std::size_t>(mod(-steps_, block_size_))];
}

void DecodePool::drop_stale() {
  while (!finish_.empty()) {
    const FinishEntry& e = finish_.top();
    const RequestState& r = slots_[static_cast<std::size_t>(e.slot)];
    if (r.decoding && r.epoch == e.epoch) return;
    finish_.pop();
  }
}

std::int64_t DecodePool::next_finish_step() {
  drop_stale();
  return finish_.empty() ? std::numeric_limits<std::int64_t>::max() : finish_.top().step;
}

std::int32_t DecodePool::pop_finished() {
  drop_stale();
  if (finish_.empty() || finish_.top().step > steps_) return -1;
  const std::int32_t slot = finish_.top().slot;
  finish_.pop();
  return slot;
}

}  // namespace kvsim
