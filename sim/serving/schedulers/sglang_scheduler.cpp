// SGLang's scheduler (srt/managers/scheduler.py, schedule_policy.py, schedule_batch.py; the
// 0.4.x line as read for docs/engines.md, the PrefillAdder also checked against 0.5.x).
//
// A forward is a prefill ("extend") batch or a decode batch, never both (enable_mixed_chunk is
// off by default): get_next_batch_to_run tries a new prefill batch first and decodes only when
// none forms. The prefill batch (PrefillAdder, FCFS) continues the one chunked request first,
// then admits waiting requests while
//   - the running batch plus the new ones stay below max_running_requests,
//   - input + min(max_new - output, CLIP) < rem_total_tokens, where rem_total_tokens = free KV
//     minus, for every running request, min(max_new - output, CLIP) x new_token_ratio,
//   - the inputs fit max_prefill_tokens (the first request always does), and
//   - the chunk budget (chunked_prefill_size) lasts: the request that overflows it is truncated
//     to what is left and becomes the chunked request; the batch ends there.
// new_token_ratio starts at 0.7, falls by (0.7 - 0.098) / 600 per decode step to 0.098, and
// is reset to 0.7 when the engine idles. A decode that cannot get its KV retracts requests
// (retract_decode): fewest output tokens first, longest input on ties, at least one, until the
// free KV covers 20 more tokens for each request left (never the last one). Retracted requests
// free their KV and rejoin the back of the waiting queue to be recomputed; new_token_ratio is
// then set to min(1, (outputs so far + 20 x requests left) / their max_new_tokens).
// Simplifications (documented): no radix prefix cache (so nothing is evictable), no lpm policy,
// no speculative decoding; pages of a compressed KV are priced per request by pages_for.
#include <algorithm>
#include <cmath>
#include <tuple>
#include <vector>

#include "sim/serving/schedulers/plan_builder.h"

namespace kvsim {

namespace {

// global_config.py: default_init_new_token_ratio 0.7 (SGLANG_INIT_NEW_TOKEN_RATIO),
// default_min_new_token_ratio_factor 0.14, default_new_token_ratio_decay_steps 600,
// retract_decode_steps 20; schedule_policy.py: CLIP_MAX_NEW_TOKENS 4096
// (SGLANG_CLIP_MAX_NEW_TOKENS_ESTIMATION).
constexpr double kInitNewTokenRatio = 0.7;
constexpr double kMinNewTokenRatioFactor = 0.14;
constexpr double kNewTokenRatioDecaySteps = 600;
constexpr std::int64_t kRetractDecodeSteps = 20;
constexpr std::int64_t kClipMaxNewTokens = 4096;

struct SglangMemory final : SchedulerMemory {
  double new_token_ratio = -1;  // < 0 until the first step sets it from the engine's conservativeness
};

class SglangScheduler final : public Scheduler {
 public:
  std::string name() const override { return "sglang"; }
  std::unique_ptr<SchedulerMemory> new_memory() const override { return std::make_unique<SglangMemory>(); }

  void plan_step(const SchedulerView& v, SchedulerMemory* memory, BatchPlan& plan) const override {
    auto& m = *static_cast<SglangMemory*>(memory);
    const Ratios r = ratios(v.engine());
    if (m.new_token_ratio < 0 || v.running_count() == 0) m.new_token_ratio = r.init;  // idle: reset
    PlanBuilder b(v, plan);
    if (plan_prefill(v, m, b, plan)) return;
    plan_decode(v, m, r, b, plan);
  }

 private:
  struct Ratios {
    double init, min, decay;
  };
  // Scheduler.__init__: init = min(0.7 x schedule_conservativeness, 1), min = init x 0.14,
  // decay = (init - min) / 600.
  static Ratios ratios(const EngineConfig& e) {
    const double init = std::min(kInitNewTokenRatio * e.schedule_conservativeness, 1.0);
    const double min = std::min(init * kMinNewTokenRatioFactor, 1.0);
    return {init, min, (init - min) / kNewTokenRatioDecaySteps};
  }

  static std::int64_t remaining_new(const SchedulerView& v, std::int32_t s) {
    return std::clamp<std::int64_t>(std::int64_t{v.max_new_tokens(s)} - v.generated(s), 0, kClipMaxNewTokens);
  }

  // get_new_batch_prefill with its PrefillAdder. Returns true when a prefill batch forms.
  static bool plan_prefill(const SchedulerView& v, const SglangMemory& m, PlanBuilder& b, BatchPlan& plan) {
    const EngineConfig& e = v.engine();
    const bool chunked = !v.prefilling().empty();
    if (v.waiting().empty() && !chunked) return false;
    const std::int32_t running_bs = v.decoding_count();
    if (running_bs >= e.max_num_seqs && !chunked) return false;  // batch_is_full
    // rem_total_tokens: free KV minus what the running requests are expected to still need.
    double reserved = 0;
    for (std::int32_t s = v.running_back(); s >= 0; s = v.running_prev(s)) {
      if (!v.is_decoding(s)) continue;
      reserved += static_cast<double>(v.pages_for(s, std::llround(remaining_new(v, s) * m.new_token_ratio)));
    }
    double rem_total = static_cast<double>(b.free()) - reserved;
    std::int64_t rem_input = e.max_prefill_tokens;
    std::int64_t rem_chunk = e.max_num_batched_tokens;  // chunked_prefill_size
    std::int32_t admitted = 0;
    // The chunked request first (add_chunked_req): as much as the chunk budget and the KV allow.
    for (const std::int32_t p : v.prefilling()) {
      const std::int64_t room = std::min<std::int64_t>(rem_chunk, static_cast<std::int64_t>(std::floor(rem_total)));
      const std::int32_t tokens = static_cast<std::int32_t>(std::min<std::int64_t>(v.prefill_remaining(p), room));
      const std::int64_t need = v.pages_for(p, v.prefill_computed(p) + tokens) - v.blocks_held(p);
      if (tokens <= 0 || need > b.free()) break;
      plan.prefills.push_back({p, tokens});
      b.take(need);
      const bool last = tokens == v.prefill_remaining(p);
      rem_total -= static_cast<double>(need + (last ? v.pages_for(p, remaining_new(v, p)) : 0));
      rem_input -= tokens;
      rem_chunk -= tokens;
      ++admitted;
    }
    const std::int64_t cap_pages = v.kv().capacity() - 1;  // max_req_len clips input + max_new
    for (const std::int32_t w : v.waiting()) {
      if (rem_total <= 0 || rem_input <= 0 || rem_chunk <= 0) break;  // budget_state
      if (running_bs + admitted >= e.max_num_seqs) break;           // batch_is_full
      const std::int32_t input = v.prefill_remaining(w);
      const std::int32_t cached = v.prefill_computed(w);  // a prefix-cache hit's tokens
      if (v.kv().never_fits(v.pages_for(w, cached + input))) {
        plan.reject.push_back(w);
        continue;
      }
      const std::int64_t total = std::min(v.pages_for(w, cached + input + remaining_new(v, w)), cap_pages);
      if (static_cast<double>(total) >= rem_total) break;    // NO_TOKEN
      if (input > rem_input && admitted > 0) break;          // OTHER: max_prefill_tokens
      const bool truncate = input > rem_chunk;
      const std::int32_t tokens = truncate ? static_cast<std::int32_t>(rem_chunk) : input;
      const std::int64_t need = v.pages_for(w, cached + tokens);
      if (need > b.free()) break;
      plan.prefills.push_back({w, tokens});
      b.take(need);
      rem_total -= static_cast<double>(truncate ? need : total);
      rem_input -= tokens;
      rem_chunk -= tokens;
      ++admitted;
      if (truncate) break;  // the new chunked request used up the chunk budget
    }
    return !plan.prefills.empty();
  }

  // update_running_batch: check_decode_mem, retract_decode, new_token_ratio.
  static void plan_decode(const SchedulerView& v, SglangMemory& m, const Ratios& r, PlanBuilder& b, BatchPlan& plan) {
    if (v.decoding_count() == 0) return;
    const std::int64_t need = v.decode_blocks_needed();
    if (b.free() >= need) {
      b.take(need);
      plan.run_decodes = true;
      m.new_token_ratio = std::max(m.new_token_ratio - r.decay, r.min);
      return;
    }
    // Victim order: fewest output tokens, then longest input; among equals the latest in the
    // batch (Python's stable sort with reverse=True, popped from the end).
    std::vector<std::tuple<std::int32_t, std::int32_t, std::int32_t>> left;  // (generated, -input, slot)
    for (std::int32_t s = v.running_back(); s >= 0; s = v.running_prev(s)) {
      if (v.is_decoding(s)) left.emplace_back(v.generated(s), -v.prompt_tokens(s), s);
    }
    std::stable_sort(left.begin(), left.end(), [](const auto& a, const auto& c) {
      return std::tie(std::get<0>(a), std::get<1>(a)) > std::tie(std::get<0>(c), std::get<1>(c));
    });
    std::int64_t avail = b.free();
    b.take(need);
    // The free KV wanted: retract_decode_steps more tokens for each request left.
    std::int64_t headroom = 0;
    for (const auto& t : left) headroom += v.pages_for(std::get<2>(t), kRetractDecodeSteps);
    for (bool first = true; first || avail < headroom; first = false) {
      if (left.size() == 1) break;
      const std::int32_t victim = std::get<2>(left.back());
      left.pop_back();
      avail += v.blocks_held(victim);
      headroom -= v.pages_for(victim, kRetractDecodeSteps);
      b.preempt(victim, PreemptionMode::kRecompute, /*requeue_back=*/true);
    }
    // The last request still without room for its token (SGLang would run out of memory):
    // it is retracted too, and the replica plans again with the freed blocks.
    while (b.free() < 0 && !left.empty()) {
      b.preempt(std::get<2>(left.back()), PreemptionMode::kRecompute, /*requeue_back=*/true);
      left.pop_back();
    }
    std::int64_t decoded = 0, max_new = 0;
    for (const auto& t : left) {
      decoded += std::get<0>(t);
      max_new += v.max_new_tokens(std::get<2>(t));
    }
    if (max_new > 0) {
      m.new_token_ratio =
          std::min(1.0, static_cast<double>(decoded + kRetractDecodeSteps * static_cast<std::int64_t>(left.size())) /
                            static_cast<double>(max_new));
    }
    plan.run_decodes = !left.empty();
  }
};

}  // namespace

std::unique_ptr<Scheduler> make_sglang_scheduler() { return std::make_unique<SglangScheduler>(); }

}  // namespace kvsim
