#pragma once
// Schedulers decide; the replica acts. A scheduler reads a SchedulerView and fills a
// BatchPlan; it never mutates state, schedules events or records metrics. The replica
// applies the plan and checks every allocation it implies (check-then-act).
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "sim/core/registry.h"
#include "sim/serving/engine_config.h"
#include "sim/serving/kv_cache_manager.h"

namespace kvsim {

struct PrefillAssignment {
  std::int32_t slot;
  std::int32_t tokens;  // tokens computed in this step (a chunk or the whole remainder)
};

struct Preemption {
  std::int32_t slot;
  PreemptionMode mode;
  // Recompute victims rejoin waiting at the front (vLLM: prepend_request) or, where the
  // engine appends them, at the back (SGLang: _extend_requests_to_queue after retract_decode).
  bool requeue_back = false;
};

struct BatchPlan {
  std::vector<Preemption> preempt;          // applied first, in order
  std::vector<std::int32_t> reject;         // waiting requests that can never be scheduled
  std::vector<std::int32_t> swap_in;        // swapped -> running, decoding this step
  bool run_decodes = false;                 // every decoding request advances one token
  std::vector<PrefillAssignment> prefills;  // running prefills, then admissions from waiting
  // Static batching: the step is costed as if every prefill were padded to the longest
  // prompt and the decode batch to this many rows (finished rows still compute).
  bool pad_to_longest = false;
  std::int32_t padded_decode_rows = 0;

  void clear() {
    preempt.clear();
    reject.clear();
    swap_in.clear();
    run_decodes = false;
    prefills.clear();
    pad_to_longest = false;
    padded_decode_rows = 0;
  }
  bool empty() const { return !run_decodes && prefills.empty() && swap_in.empty(); }
};

// Read-only view of a replica for one planning decision. All queries are O(1).
class SchedulerView {
 public:
  virtual ~SchedulerView() = default;
  virtual const EngineConfig& engine() const = 0;
  virtual const KvCacheManager& kv() const = 0;
  virtual std::int32_t running_count() const = 0;   // decoding + prefilling
  virtual std::int32_t decoding_count() const = 0;
  virtual std::int64_t decode_blocks_needed() const = 0;  // for one more token each
  virtual const std::vector<std::int32_t>& prefilling() const = 0;  // running, mid-prefill, admission order
  virtual const std::deque<std::int32_t>& waiting() const = 0;
  virtual const std::deque<std::int32_t>& swapped() const = 0;
  // Running order: back() is the most recently admitted; prev() walks towards the front.
  virtual std::int32_t running_back() const = 0;
  virtual std::int32_t running_prev(std::int32_t slot) const = 0;
  virtual bool is_decoding(std::int32_t slot) const = 0;
  virtual std::int64_t blocks_held(std::int32_t slot) const = 0;
  virtual bool needs_block_next_decode(std::int32_t slot) const = 0;
  virtual std::int32_t prefill_remaining(std::int32_t slot) const = 0;
  virtual std::int32_t prefill_computed(std::int32_t slot) const = 0;
  // Pages `slot` needs to hold `tokens` tokens in its compression method's format.
  virtual std::int64_t pages_for(std::int32_t slot, std::int64_t tokens) const = 0;
  // The most pages `slot` will ever hold (its prompt before compaction, or its longest
  // resident context), for schedulers that reserve whole requests (static batching).
  virtual std::int64_t max_pages_ever(std::int32_t slot) const = 0;
  // Output tokens a running request has produced, its prompt, and the most the client lets it
  // generate (the trace's max_tokens; without one, its own output length, as benchmark
  // clients send max_tokens = the dataset's output length).
  virtual std::int32_t generated(std::int32_t slot) const = 0;
  virtual std::int32_t prompt_tokens(std::int32_t slot) const = 0;
  virtual std::int32_t max_new_tokens(std::int32_t slot) const = 0;
};

// State a scheduler keeps between the steps of one replica (SGLang's new_token_ratio, LMDeploy's
// decode steps since a prefill, static batching's batch rows): schedulers own their state. The
// scheduler creates it, the replica owns it, and only plan_step changes it, so runs stay
// deterministic and one scheduler object serves every replica.
class SchedulerMemory {
 public:
  virtual ~SchedulerMemory() = default;
};

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  // Contract: a decision; reads `view`, fills `plan` (cleared by the caller) and may update
  // its own `memory` (from new_memory(); null for schedulers without state).
  virtual void plan_step(const SchedulerView& view, SchedulerMemory* memory, BatchPlan& plan) const = 0;
  virtual std::unique_ptr<SchedulerMemory> new_memory() const { return nullptr; }
  virtual std::string name() const = 0;
};

// What a scheduler's rules allow, for the checks that depend on it (engine and cluster keys).
inline constexpr const char* kAlwaysChunksPrefill = "always_chunks_prefill";  // chunked_prefill cannot be off
inline constexpr const char* kTokenBudgetCoversSeqs = "token_budget_covers_seqs";  // batched tokens >= max seqs
inline constexpr const char* kSwapPreemption = "swap_preemption";  // preemption_mode swap is modelled
inline constexpr const char* kKvHandover = "kv_handover";  // prefill/decode roles (disaggregated serving)

// The built-in schedulers by name (schedulers/registry.cpp; explicit wiring, no static
// self-registration). A new scheduler: its own file in schedulers/ plus one entry there.
using SchedulerRegistry = Registry<std::unique_ptr<Scheduler>()>;
const SchedulerRegistry& scheduler_registry();
std::unique_ptr<Scheduler> make_scheduler(const std::string& name);
std::vector<std::string> scheduler_names();

}  // namespace kvsim
