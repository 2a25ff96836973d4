#pragma once
// The decoding requests of a replica, advanced together. Every decode step adds one token
// to each member, so per-member state is kept relative to a shared step counter and a step
// costs O(1), not O(batch): this is what makes kvsim's work grow with events, not tokens.
//   resident(r) = min(r.res_key + steps, cap)   generated(r) = r.gen_key + steps
// Members are grouped by compression method (each has its own tokens per page and cap).
// Per group the pool knows in O(1): the sum and max of resident contexts (for the cost
// model), how many members cross a page boundary on the next step (pages to allocate),
// and, across groups, the next step at which a member finishes or reaches its cap.
#include <cstdint>
#include <functional>
#include <queue>
#include <set>
#include <vector>

#include "sim/serving/request_state.h"

namespace kvsim {

struct PoolGroupSpec {
  int tokens_per_page = 16;
  std::int64_t cap = 0;  // resident-token cap (evict every step); kNoCap-like large if none
};

class DecodePool {
 public:
  DecodePool(std::vector<RequestState>& slots, std::vector<PoolGroupSpec> groups);

  // Adds a running request whose resident_tokens/generated are materialized. Precondition:
  // generated < target_output and resident_tokens <= its group's cap.
  void add(std::int32_t slot);
  // Removes a member and materializes its resident_tokens, generated and blocks.
  void remove(std::int32_t slot);

  std::int32_t count() const { return count_; }
  std::int64_t steps() const { return steps_; }
  std::size_t group_count() const { return groups_.size(); }
  std::int32_t group_size(std::size_t g) const { return groups_[g].count + groups_[g].capped; }
  std::int64_t resident(const RequestState& r) const;
  std::int32_t generated(const RequestState& r) const { return static_cast<std::int32_t>(r.gen_key + steps_); }
  std::int64_t blocks(const RequestState& r) const;
  // Sum / max of resident tokens in group g, and of logical tokens (prompt + generated - 1).
  std::int64_t resident_sum(std::size_t g) const;
  std::int64_t resident_max(std::size_t g) const;
  std::int64_t logical_sum(std::size_t g) const;
  // Members that need a new page for the token written by the next step.
  std::int64_t blocks_needed_next_step() const { return need_; }
  bool needs_block_next_step(const RequestState& r) const;
  // Advances every member by one token (and moves members that reach their cap).
  void advance();
  // Pops a member whose generated == target_output now, or -1 when none.
  std::int32_t pop_finished();

 private:
  struct HeapEntry {
    std::int64_t step;
    std::int32_t slot;
    std::uint32_t epoch;
    bool operator>(const HeapEntry& o) const { return step != o.step ? step > o.step : slot > o.slot; }
  };
  using MinHeap = std::priority_queue<HeapEntry, std::vector<HeapEntry>, std::greater<>>;
  struct Group {
    PoolGroupSpec spec;
    std::int32_t count = 0;   // uncapped members
    std::int32_t capped = 0;  // members held at the cap
    std::int64_t key_sum = 0;
    std::int64_t prompt_sum = 0;   // over all members
    std::int64_t gen_key_sum = 0;  // over all members
    std::multiset<std::int64_t> keys;
    std::vector<std::int64_t> phase_hist;  // uncapped members by res_key mod tokens_per_page
  };
  void recompute_need();
  void capped_now(std::int32_t slot);
  bool stale(const HeapEntry& e) const;

  std::vector<RequestState>& slots_;
  std::vector<Group> groups_;
  std::int32_t count_ = 0;
  std::int64_t steps_ = 0;
  std::int64_t need_ = 0;
  MinHeap finish_;
  MinHeap cap_;
};

}  // namespace kvsim
