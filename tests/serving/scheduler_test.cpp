// Schedulers are pure decisions: each case is a view (queues, KV budget) and the plan the
// engine's rules demand.
#include <gtest/gtest.h>

#include <map>

#include "sim/serving/scheduler.h"

namespace kvsim {
namespace {

struct Req {
  bool decoding = false;
  std::int64_t blocks = 0;
  bool needs_block = false;
  std::int32_t remaining = 0;  // prefill tokens left
  std::int32_t computed = 0;
  std::int64_t max_tokens = 0;
  std::int32_t generated = 0;
  std::int32_t prompt = 0;
  std::int32_t max_new = 0;
};

class FakeView final : public SchedulerView {
 public:
  FakeView(EngineConfig e, std::int64_t capacity, std::int64_t used)
      : e_(std::move(e)), kv_(capacity, e_.block_size, e_.watermark, 100) {
    kv_.allocate(used);
  }
  // Adds a running request (admission order = call order).
  void running(std::int32_t slot, Req r) {
    reqs_[slot] = r;
    order_.push_back(slot);
    if (r.decoding) {
      ++decoding_;
      decode_need_ += r.needs_block;
    } else {
      prefilling_.push_back(slot);
    }
  }
  // max_tokens: prompt + output (for whole-request reservations); SGLang's max_new is the output part.
  void waiting(std::int32_t slot, std::int32_t prompt, std::int64_t max_tokens = 0) {
    const std::int64_t total = max_tokens ? max_tokens : prompt + 100;
    reqs_[slot] = Req{false, 0, false, prompt, 0, total, 0, prompt, static_cast<std::int32_t>(total - prompt)};
    waiting_.push_back(slot);
  }

  const EngineConfig& engine() const override { return e_; }
  const KvCacheManager& kv() const override { return kv_; }
  std::int32_t running_count() const override { return static_cast<std::int32_t>(order_.size()); }
  std::int32_t decoding_count() const override { return decoding_; }
  std::int64_t decode_blocks_needed() const override { return decode_need_; }
  const std::vector<std::int32_t>& prefilling() const override { return prefilling_; }
  const std::deque<std::int32_t>& waiting() const override { return waiting_; }
  const std::deque<std::int32_t>& swapped() const override { return swapped_; }
  std::int32_t running_back() const override { return order_.empty() ? -1 : order_.back(); }
  std::int32_t running_prev(std::int32_t slot) const override {
    for (std::size_t i = 1; i < order_.size(); ++i) {
      if (order_[i] == slot) return order_[i - 1];
    }
    return -1;
  }
  bool is_decoding(std::int32_t s) const override { return reqs_.at(s).decoding; }
  std::int64_t blocks_held(std::int32_t s) const override { return reqs_.at(s).blocks; }
  bool needs_block_next_decode(std::int32_t s) const override { return reqs_.at(s).needs_block; }
  std::int32_t prefill_remaining(std::int32_t s) const override { return reqs_.at(s).remaining; }
  std::int32_t prefill_computed(std::int32_t s) const override { return reqs_.at(s).computed; }
  std::int64_t pages_for(std::int32_t, std::int64_t tokens) const override { return kv_.blocks_for(tokens); }
  std::int64_t max_pages_ever(std::int32_t s) const override { return kv_.blocks_for(reqs_.at(s).max_tokens); }
  std::int32_t generated(std::int32_t s) const override { return reqs_.at(s).generated; }
  std::int32_t prompt_tokens(std::int32_t s) const override { return reqs_.at(s).prompt; }
  std::int32_t max_new_tokens(std::int32_t s) const override { return reqs_.at(s).max_new; }

 private:
  EngineConfig e_;
  KvCacheManager kv_;
  std::map<std::int32_t, Req> reqs_;
  std::vector<std::int32_t> order_, prefilling_;
  std::deque<std::int32_t> waiting_, swapped_;
  std::int32_t decoding_ = 0;
  std::int64_t decode_need_ = 0;
};

GpuSpec big_gpu() {
  GpuSpec g;
  g.name = "h200";
  g.memory_bytes = 150754820096;
  return g;
}

BatchPlan plan(const std::string& sched, const SchedulerView& v) {
  BatchPlan p;
  const auto s = make_scheduler(sched);
  const auto memory = s->new_memory();
  s->plan_step(v, memory.get(), p);
  return p;
}

std::vector<std::int32_t> slots_of(const std::vector<PrefillAssignment>& a) {
  std::vector<std::int32_t> out;
  for (const auto& x : a) out.push_back(x.slot);
  return out;
}
std::vector<std::int32_t> slots_of(const std::vector<Preemption>& a) {
  std::vector<std::int32_t> out;
  for (const auto& x : a) out.push_back(x.slot);
  return out;
}

TEST(VllmV1, DecodesThenChunkedPrefillUnderTokenBudget) {
  EngineConfig e = engine_preset("vllm-v1", big_gpu());
  e.max_num_batched_tokens = 100;
  FakeView v(e, 1000, 10);
  v.running(0, {true, 5, false});
  v.running(1, {true, 5, false});
  v.waiting(2, 60);
  v.waiting(3, 60);
  const BatchPlan p = plan("vllm-v1", v);
  EXPECT_TRUE(p.run_decodes);
  ASSERT_EQ(p.prefills.size(), 2u);
  EXPECT_EQ(p.prefills[0].tokens, 60);
  EXPECT_EQ(p.prefills[1].tokens, 38);  // 100 - 2 decodes - 60: the rest is chunked
  EXPECT_TRUE(p.preempt.empty());
}

TEST(VllmV1, PreemptsMostRecentlyAdmittedAndAdmitsNothingThatStep) {
  EngineConfig e = engine_preset("vllm-v1", big_gpu());
  FakeView v(e, 30, 30);  // full
  v.running(0, {true, 10, true});
  v.running(1, {true, 10, true});
  v.running(2, {true, 10, false});
  v.waiting(3, 8);
  const BatchPlan p = plan("vllm-v1", v);
  // Two blocks needed, none free: the newest (2) is preempted, freeing 10.
  EXPECT_EQ(slots_of(p.preempt), std::vector<std::int32_t>{2});
  EXPECT_EQ(p.preempt[0].mode, PreemptionMode::kRecompute);
  EXPECT_TRUE(p.prefills.empty());  // no admission in a step that preempted
  EXPECT_TRUE(p.run_decodes);
}

TEST(VllmV1, RespectsMaxNumSeqsAndFreeBlocks) {
  EngineConfig e = engine_preset("vllm-v1", big_gpu());
  e.max_num_seqs = 2;
  FakeView v(e, 10, 0);
  v.running(0, {true, 1, false});
  v.waiting(1, 16);
  v.waiting(2, 16);
  EXPECT_EQ(slots_of(plan("vllm-v1", v).prefills), std::vector<std::int32_t>{1});
  FakeView tight(engine_preset("vllm-v1", big_gpu()), 3, 2);
  tight.waiting(1, 40);  // needs 3 blocks, 1 free: waits
  EXPECT_TRUE(plan("vllm-v1", tight).prefills.empty());
}

TEST(VllmV0, PrefillFirstSkipsDecodesAndHonoursWatermark) {
  EngineConfig e = engine_preset("vllm-v0", big_gpu());
  e.max_num_batched_tokens = 4096;
  FakeView v(e, 200, 100);  // watermark 2 blocks
  v.running(0, {true, 10, false});
  v.waiting(1, 16 * 90);  // 90 blocks: 100 - 90 >= 2, admitted
  v.waiting(2, 16 * 9);   // 9 more: 1 left < watermark 2, LATER
  const BatchPlan p = plan("vllm-v0", v);
  EXPECT_EQ(slots_of(p.prefills), std::vector<std::int32_t>{1});
  EXPECT_FALSE(p.run_decodes);  // a prefill iteration runs no decodes
}

TEST(VllmV0, RejectsPromptThatCanNeverFitAndDecodesWhenNothingAdmits) {
  EngineConfig e = engine_preset("vllm-v0", big_gpu());
  e.max_num_batched_tokens = 1 << 20;
  FakeView v(e, 100, 10);
  v.running(0, {true, 10, true});
  v.waiting(1, 16 * 100);  // 100 blocks: capacity - 100 < watermark 1
  const BatchPlan p = plan("vllm-v0", v);
  EXPECT_EQ(p.reject, std::vector<std::int32_t>{1});
  EXPECT_TRUE(p.run_decodes);
}

TEST(VllmV0, SwapModePreemptsBySwapping) {
  EngineConfig e = engine_preset("vllm-v0", big_gpu());
  e.preemption_mode = PreemptionMode::kSwap;
  FakeView v(e, 20, 20);
  v.running(0, {true, 10, true});
  v.running(1, {true, 10, true});
  const BatchPlan p = plan("vllm-v0", v);
  ASSERT_EQ(p.preempt.size(), 1u);
  EXPECT_EQ(p.preempt[0].slot, 1);
  EXPECT_EQ(p.preempt[0].mode, PreemptionMode::kSwap);
}

TEST(LmdeployPytorch, PrefillOnlyWhenDueAndSeparateFromDecode) {
  EngineConfig e = engine_preset("lmdeploy-pytorch", big_gpu());
  e.max_num_seqs = 4;
  FakeView v(e, 100, 4);
  v.running(0, {true, 2, false});
  v.running(1, {true, 2, false});
  v.waiting(2, 100);
  // The scheduler counts its own decode steps (its memory): a prefill is due after
  // 16 x 2/4 = 8 decode iterations, and the count restarts after it.
  const auto s = make_scheduler("lmdeploy-pytorch");
  const auto memory = s->new_memory();
  auto next = [&] {
    BatchPlan p;
    s->plan_step(v, memory.get(), p);
    return p;
  };
  for (int i = 0; i < 8; ++i) {
    const BatchPlan p = next();
    EXPECT_TRUE(p.prefills.empty()) << "decode step " << i;
    EXPECT_TRUE(p.run_decodes) << "decode step " << i;
  }
  BatchPlan p = next();
  EXPECT_EQ(slots_of(p.prefills), std::vector<std::int32_t>{2});
  EXPECT_FALSE(p.run_decodes);
  p = next();
  EXPECT_TRUE(p.prefills.empty());
  EXPECT_TRUE(p.run_decodes);
}

TEST(StaticBatching, FormsABatchOnlyWhenIdleAndReservesWholeRequests) {
  EngineConfig e = engine_preset("static", big_gpu());
  e.max_num_seqs = 3;
  FakeView idle(e, 20, 0);
  idle.waiting(0, 16, 16 * 8);  // 8 blocks for prompt + output
  idle.waiting(1, 16, 16 * 8);
  idle.waiting(2, 16, 16 * 8);  // would need 24 > 20
  BatchPlan p = plan("static", idle);
  EXPECT_EQ(slots_of(p.prefills), (std::vector<std::int32_t>{0, 1}));
  EXPECT_TRUE(p.pad_to_longest);
  FakeView busy(e, 20, 8);
  busy.running(0, {true, 8, false});
  busy.waiting(1, 16, 32);
  p = plan("static", busy);
  EXPECT_TRUE(p.prefills.empty());
  EXPECT_TRUE(p.run_decodes);
  // The batch's rows are the scheduler's own memory: every decode step of the batch is padded to
  // the rows it admitted (2), whatever has finished since.
  const auto s = make_scheduler("static");
  const auto memory = s->new_memory();
  BatchPlan formed;
  s->plan_step(idle, memory.get(), formed);
  BatchPlan decoding;
  s->plan_step(busy, memory.get(), decoding);
  EXPECT_EQ(decoding.padded_decode_rows, 2);
}

// SGLang (sim/serving/schedulers/sglang_scheduler.cpp cites each rule: scheduler.py
// get_next_batch_to_run, schedule_policy.py PrefillAdder, schedule_batch.py retract_decode).
Req sg_decoding(std::int64_t blocks, std::int32_t generated, std::int32_t prompt, std::int32_t max_new) {
  return Req{true, blocks, true, 0, 0, 0, generated, prompt, max_new};
}

TEST(Sglang, PrefillFirstAndNeverMixedWithDecodes) {
  const EngineConfig e = engine_preset("sglang", big_gpu());
  FakeView v(e, 10000, 200);
  v.running(0, sg_decoding(100, 5, 95, 50));
  v.running(1, sg_decoding(100, 5, 95, 50));
  v.waiting(2, 100, 150);
  const BatchPlan p = plan("sglang", v);
  EXPECT_EQ(slots_of(p.prefills), std::vector<std::int32_t>{2});
  EXPECT_EQ(p.prefills[0].tokens, 100);
  EXPECT_FALSE(p.run_decodes);
  // Nothing waiting: a decode batch.
  FakeView d(e, 10000, 200);
  d.running(0, sg_decoding(100, 5, 95, 50));
  EXPECT_TRUE(plan("sglang", d).run_decodes);
}

// Two running requests may still write min(4000 - 0, 4096) tokens each, reserved at
// new_token_ratio: 1800 free blocks admit a 100 + 100 token request once
// 1800 - 2 x round(4000 r) > 200, i.e. r < 0.2. From 0.7 down by (0.7 - 0.098) / 600 per decode
// step, plan 499 (r = 0.20034) still refuses and plan 500 (r = 0.19934) admits.
TEST(Sglang, NewTokenRatioDecaysPerDecodeStepAndResetsWhenIdle) {
  const EngineConfig e = engine_preset("sglang", big_gpu());
  FakeView v(e, 2000, 200);
  v.running(0, sg_decoding(100, 0, 100, 4000));
  v.running(1, sg_decoding(100, 0, 100, 4000));
  v.waiting(2, 100);  // prompt 100, max_new 100
  const auto s = make_scheduler("sglang");
  auto memory = s->new_memory();
  auto step = [&](const SchedulerView& view) {
    BatchPlan p;
    s->plan_step(view, memory.get(), p);
    return p;
  };
  for (int n = 1; n <= 499; ++n) {
    const BatchPlan p = step(v);
    ASSERT_TRUE(p.prefills.empty()) << "plan " << n;
    ASSERT_TRUE(p.run_decodes) << "plan " << n;
  }
  EXPECT_EQ(slots_of(step(v).prefills), std::vector<std::int32_t>{2});
  // An idle engine resets the ratio to 0.7: the same view refuses again.
  FakeView idle(e, 2000, 0);
  step(idle);
  EXPECT_TRUE(step(v).prefills.empty());
}

TEST(Sglang, ChunkedRequestFirstThenTruncatesTheOverflowingOne) {
  EngineConfig e = engine_preset("sglang", big_gpu());
  e.max_num_batched_tokens = 100;  // chunked_prefill_size
  FakeView v(e, 10000, 40);
  v.running(3, Req{false, 40, false, 20, 40, 0, 0, 60, 10});  // mid-prefill: 40 done, 20 left
  v.waiting(0, 60, 70);
  v.waiting(1, 60, 70);
  const BatchPlan p = plan("sglang", v);
  ASSERT_EQ(p.prefills.size(), 3u);
  EXPECT_EQ(p.prefills[0].slot, 3);
  EXPECT_EQ(p.prefills[0].tokens, 20);
  EXPECT_EQ(p.prefills[1].slot, 0);
  EXPECT_EQ(p.prefills[1].tokens, 60);
  // Slot 1 overflows the 20 tokens left: truncated to them, the new chunked request.
  EXPECT_EQ(p.prefills[2].slot, 1);
  EXPECT_EQ(p.prefills[2].tokens, 20);
  // Without a chunked request: 60 whole, the next truncated to 40, and the batch ends there.
  FakeView w(e, 10000, 0);
  w.waiting(0, 60, 70);
  w.waiting(1, 60, 70);
  w.waiting(2, 5, 10);
  const BatchPlan q = plan("sglang", w);
  ASSERT_EQ(q.prefills.size(), 2u);
  EXPECT_EQ(q.prefills[1].slot, 1);
  EXPECT_EQ(q.prefills[1].tokens, 40);
}

TEST(Sglang, MaxPrefillTokensAdmitsTheFirstAlways) {
  EngineConfig e = engine_preset("sglang", big_gpu());
  e.max_prefill_tokens = 100;
  FakeView v(e, 10000, 0);
  v.waiting(0, 150, 160);
  v.waiting(1, 10, 20);
  EXPECT_EQ(slots_of(plan("sglang", v).prefills), std::vector<std::int32_t>{0});
  FakeView w(e, 10000, 0);
  w.waiting(0, 60, 70);
  w.waiting(1, 60, 70);  // 60 > the 40 input tokens left
  EXPECT_EQ(slots_of(plan("sglang", w).prefills), std::vector<std::int32_t>{0});
}

// Four decodes, no free block. Victims: fewest outputs (slots 1 and 2, two each; 2 has the longer
// prompt), then slot 0. After three, 30 free blocks cover 20 tokens for the one left.
TEST(Sglang, RetractsFewestOutputsFirstUntilTwentyTokensEachAndAppendsThem) {
  const EngineConfig e = engine_preset("sglang", big_gpu());
  FakeView v(e, 40, 40);
  v.running(0, sg_decoding(10, 5, 50, 100));
  v.running(1, sg_decoding(10, 2, 50, 100));
  v.running(2, sg_decoding(10, 2, 80, 100));
  v.running(3, sg_decoding(10, 9, 50, 100));
  const BatchPlan p = plan("sglang", v);
  EXPECT_EQ(slots_of(p.preempt), (std::vector<std::int32_t>{2, 1, 0}));
  for (const auto& x : p.preempt) {
    EXPECT_EQ(x.mode, PreemptionMode::kRecompute);
    EXPECT_TRUE(x.requeue_back);
  }
  EXPECT_TRUE(p.run_decodes);
}

TEST(Sglang, FullBatchAdmitsNothing) {
  EngineConfig e = engine_preset("sglang", big_gpu());
  e.max_num_seqs = 2;  // max_running_requests
  FakeView v(e, 10000, 20);
  v.running(0, sg_decoding(10, 1, 9, 50));
  v.running(1, sg_decoding(10, 1, 9, 50));
  v.waiting(2, 10, 20);
  const BatchPlan p = plan("sglang", v);
  EXPECT_TRUE(p.prefills.empty());
  EXPECT_TRUE(p.run_decodes);
}

TEST(SchedulerRegistry, EveryListedNameConstructs) {
  for (const auto& n : scheduler_names()) EXPECT_EQ(make_scheduler(n)->name(), n);
  EXPECT_THROW(make_scheduler("vllm-v2"), InputError);
}

}  // namespace
}  // namespace kvsim
