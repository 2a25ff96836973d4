#pragma once
// The scheduler's read-only window onto a replica (internal to sim/serving: replica*.cpp only).
#include "sim/serving/replica.h"

namespace kvsim {

// The scheduler's read-only window onto this replica.
class Replica::View final : public SchedulerView {
 public:
  explicit View(const Replica& r) : r_(r) {}
  const EngineConfig& engine() const override { return r_.engine_; }
  const KvCacheManager& kv() const override { return r_.kv_; }
  std::int32_t running_count() const override { return r_.running_; }
  std::int32_t decoding_count() const override { return r_.pool_.count(); }
  std::int64_t decode_blocks_needed() const override { return r_.pool_.blocks_needed_next_step(); }
  const std::vector<std::int32_t>& prefilling() const override { return r_.prefilling_; }
  const std::deque<std::int32_t>& waiting() const override { return r_.waiting_; }
  const std::deque<std::int32_t>& swapped() const override { return r_.swapped_; }
  std::int32_t running_back() const override { return r_.run_tail_; }
  std::int32_t running_prev(std::int32_t slot) const override { return at(slot).prev; }
  bool is_decoding(std::int32_t slot) const override { return at(slot).decoding; }
  std::int64_t blocks_held(std::int32_t slot) const override {
    const RequestState& s = at(slot);
    return s.decoding ? r_.pool_.blocks(s) : s.blocks;
  }
  bool needs_block_next_decode(std::int32_t slot) const override {
    const RequestState& s = at(slot);
    return s.decoding ? r_.pool_.needs_block_next_step(s) : r_.needs_page(s, s.resident_tokens);
  }
  std::int64_t pages_for(std::int32_t slot, std::int64_t tokens) const override {
    return r_.pages(at(slot).method, tokens);
  }
  std::int64_t max_pages_ever(std::int32_t slot) const override { return r_.max_pages_ever(at(slot)); }
  std::int32_t prefill_remaining(std::int32_t slot) const override {
    const RequestState& s = at(slot);
    return s.prefill_target - s.computed;
  }
  std::int32_t prefill_computed(std::int32_t slot) const override { return at(slot).computed; }
  std::int32_t generated(std::int32_t slot) const override {
    const RequestState& s = at(slot);
    return s.decoding ? r_.pool_.generated(s) : s.generated;
  }
  std::int32_t prompt_tokens(std::int32_t slot) const override { return at(slot).spec.prompt_tokens; }
  std::int32_t max_new_tokens(std::int32_t slot) const override {
    const RequestState& s = at(slot);
    return s.spec.max_tokens > 0 ? s.spec.max_tokens : s.target_output;
  }

 private:
  const RequestState& at(std::int32_t slot) const { return r_.slots_[static_cast<std::size_t>(slot)]; }
  const Replica& r_;
};

}  // namespace kvsim
