#pragma once
// The decoding requests of a replica, advanced together. Every decode step adds one token
// to each member, so per-member state is kept relative to a shared step counter and a step
// costs O(1), not O(batch): this is what makes kvsim's work grow with events, not tokens.
//   kv_tokens(r) = r.kv_key + steps,   generated(r) = r.gen_key + steps
// The pool knows, also in O(1): the sum and max of contexts (for the cost model), how many
// members cross a block boundary on the next step (blocks to allocate), and the next step
// at which a member finishes.
#include <cstdint>
#include <functional>
#include <queue>
#include <set>
#include <vector>

#include "sim/serving/request_state.h"

namespace kvsim {

class DecodePool {
 public:
  DecodePool(std::vector<RequestState>& slots, int block_size);

  // Adds a running request whose kv_tokens/generated are materialized. Precondition:
  // generated < target_output.
  void add(std::int32_t slot);
  // Removes a member and materializes its kv_tokens, generated and blocks.
  void remove(std::int32_t slot);

  std::int32_t count() const { return count_; }
  std::int64_t steps() const { return steps_; }
  std::int64_t kv_tokens(const RequestState& r) const { return r.kv_key + steps_; }
  std::int32_t generated(const RequestState& r) const { return static_cast<std::int32_t>(r.gen_key + steps_); }
  std::int64_t blocks(const RequestState& r) const;
  std::int64_t kv_sum() const { return key_sum_ + static_cast<std::int64_t>(count_) * steps_; }
  std::int64_t kv_max() const { return keys_.empty() ? 0 : *keys_.rbegin() + steps_; }
  // Members that need a new block for the token written by the next step.
  std::int64_t blocks_needed_next_step() const;
  // True if member `r` needs a new block on the next step.
  bool needs_block_next_step(const RequestState& r) const { return kv_tokens(r) % block_size_ == 0; }
  // Step at which the earliest member produces its last token (INT64_MAX if empty).
  std::int64_t next_finish_step();
  // Advances every member by one token.
  void advance() { ++steps_; }
  // Pops a member whose generated == target_output now, or -1 when none.
  std::int32_t pop_finished();

 private:
  struct FinishEntry {
    std::int64_t step;
    std::int32_t slot;
    std::uint32_t epoch;
    bool operator>(const FinishEntry& o) const { return step != o.step ? step > o.step : slot > o.slot; }
  };
  void drop_stale();

  std::vector<RequestState>& slots_;
  int block_size_;
  std::int32_t count_ = 0;
  std::int64_t steps_ = 0;
  std::int64_t key_sum_ = 0;
  std::multiset<std::int64_t> keys_;
  std::vector<std::int64_t> phase_hist_;  // members by kv_key mod block_size
  std::priority_queue<FinishEntry, std::vector<FinishEntry>, std::greater<>> finish_;
};

}  // namespace kvsim
