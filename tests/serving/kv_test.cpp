#include <gtest/gtest.h>

#include "../support/run_helpers.h"
#include "sim/serving/decode_pool.h"
#include "sim/serving/kv_cache_manager.h"

namespace kvsim {
namespace {

constexpr std::int64_t kNoCapForTest = std::int64_t{1} << 60;

TEST(KvCacheManager, AccountsBlocksAndEnforcesCheckThenAct) {
  KvCacheManager kv(100, 16, 0.01, 10);
  EXPECT_EQ(kv.watermark_blocks(), 1);
  EXPECT_EQ(kv.blocks_for(0), 0);
  EXPECT_EQ(kv.blocks_for(1), 1);
  EXPECT_EQ(kv.blocks_for(16), 1);
  EXPECT_EQ(kv.blocks_for(17), 2);
  kv.allocate(60);
  EXPECT_EQ(kv.used() + kv.free(), kv.capacity());
  EXPECT_TRUE(kv.can_allocate_with_watermark(39));
  EXPECT_FALSE(kv.can_allocate_with_watermark(40));  // would leave 0 < watermark 1
  EXPECT_TRUE(kv.never_fits(100));
  EXPECT_THROW(kv.allocate(41), InvariantViolation);
  kv.swap_out(10);
  EXPECT_EQ(kv.cpu_used(), 10);
  EXPECT_THROW(kv.swap_out(1), InvariantViolation);  // CPU pool full
  kv.swap_in(10);
  kv.release(60);
  EXPECT_EQ(kv.used(), 0);
  EXPECT_THROW(kv.release(1), InvariantViolation);
}

// The pool's O(1) bookkeeping must equal a naive per-request simulation, step by step:
// two methods with different tokens per page, one of them capped (evict every step).
TEST(DecodePool, MatchesNaivePerRequestBookkeeping) {
  const std::vector<PoolGroupSpec> groups = {{16, kNoCapForTest}, {40, 200}};
  std::vector<RequestState> slots(60);
  DecodePool pool(slots, groups);
  Rng rng(9);
  struct Naive {
    std::int64_t res;
    std::int32_t gen, target;
    std::uint8_t m;
    bool in;
  };
  std::vector<Naive> naive(60);
  for (std::int32_t i = 0; i < 60; ++i) {
    slots[i].method = static_cast<std::uint8_t>(i % 2);
    const std::int64_t cap = groups[slots[i].method].cap;
    slots[i].resident_tokens = std::min<std::int64_t>(rng.uniform_int(1, 300), cap);
    slots[i].generated = 1;
    slots[i].target_output = static_cast<std::int32_t>(rng.uniform_int(2, 200));
    slots[i].spec.prompt_tokens = 50;
    naive[i] = {slots[i].resident_tokens, 1, slots[i].target_output, slots[i].method, false};
  }
  std::int32_t next_add = 0;
  for (int step = 0; step < 400; ++step) {
    if (next_add < 60 && step % 4 == 0) {
      pool.add(next_add);
      naive[next_add].in = true;
      ++next_add;
    }
    std::int64_t need = 0;
    std::int64_t sum[2] = {0, 0}, mx[2] = {0, 0}, logical[2] = {0, 0};
    for (const auto& n : naive) {
      if (!n.in) continue;
      const int per = groups[n.m].tokens_per_page;
      need += (n.res < groups[n.m].cap && n.res % per == 0);
      sum[n.m] += n.res;
      mx[n.m] = std::max(mx[n.m], n.res);
      logical[n.m] += 50 + n.gen - 1;
    }
    ASSERT_EQ(pool.blocks_needed_next_step(), need) << "step " << step;
    for (std::size_t g = 0; g < 2; ++g) {
      ASSERT_EQ(pool.resident_sum(g), sum[g]) << "step " << step << " group " << g;
      ASSERT_EQ(pool.resident_max(g), mx[g]);
      ASSERT_EQ(pool.logical_sum(g), logical[g]);
    }
    pool.advance();
    for (auto& n : naive) {
      if (!n.in) continue;
      n.res = std::min(n.res + 1, groups[n.m].cap);
      ++n.gen;
    }
    std::vector<std::int32_t> finished;
    for (std::int32_t s; (s = pool.pop_finished()) >= 0;) {
      pool.remove(s);
      finished.push_back(s);
    }
    std::vector<std::int32_t> want;
    for (std::int32_t i = 0; i < 60; ++i) {
      if (naive[i].in && naive[i].gen == naive[i].target) {
        want.push_back(i);
        naive[i].in = false;
      }
    }
    std::sort(finished.begin(), finished.end());
    ASSERT_EQ(finished, want) << "step " << step;
    for (auto s : finished) {
      const int per = groups[naive[s].m].tokens_per_page;
      EXPECT_EQ(slots[s].resident_tokens, naive[s].res);
      EXPECT_EQ(slots[s].blocks, (naive[s].res + per - 1) / per);
    }
  }
}

TEST(KvCapacity, Llama3_8bOnH200MatchesHandComputedVllmFormula) {
  const Scenario s = testing::scenario("model: llama-3-8b\ngpu: h200\nengine: {preset: vllm-v1}\nworkload: {num_requests: 10, arrival: {kind: all-at-once}}");
  const KvCapacity& c = s.capacity;
  EXPECT_EQ(c.bytes_per_token, 2 * 32 * 8 * 128 * 2);  // K+V x layers x kv_heads x head_dim x fp16
  EXPECT_EQ(c.block_bytes, 131072 * 16);
  EXPECT_EQ(c.budget_bytes, 135679338086);  // 150754820096 x 0.90
  EXPECT_EQ(c.weight_bytes, 8030261248LL * 2);
  // 8192 tokens x 2 x (3 x 14336 + 4 x 4096) + 2 x 4 x 1024 x 128256 (fp32 logits)
  EXPECT_EQ(c.activation_bytes, 8192LL * 118784 + 1050673152LL);
  const std::int64_t pool = 135679338086 - 16060522496 - 2023751680 - 536870912 - 536870912;
  EXPECT_EQ(c.kv_pool_bytes, pool);
  EXPECT_EQ(c.num_gpu_blocks, pool / (131072 * 16));
  EXPECT_EQ(c.num_gpu_blocks, 55561);
}

TEST(KvCapacity, ExplicitBlocksAndLmdeployRule) {
  EXPECT_EQ(testing::scenario("engine: {num_gpu_blocks: 1234}\nworkload: {num_requests: 10, arrival: {kind: all-at-once}}").capacity.num_gpu_blocks, 1234);
  const Scenario s = testing::scenario("model: llama-2-7b\ngpu: rtx-a6000\nengine: {preset: lmdeploy-pytorch}\nworkload: {num_requests: 10, arrival: {kind: all-at-once}}");
  const KvCapacity& c = s.capacity;
  // (memory - weights - non-torch - runtime cache) x 0.8, block 64 tokens of 512 KiB/token.
  EXPECT_EQ(c.block_bytes, 64LL * 2 * 32 * 32 * 128 * 2);
  EXPECT_EQ(c.activation_bytes, 4096LL * 32000 * 7);
  const std::int64_t free_after = c.memory_bytes - c.weight_bytes - c.non_torch_bytes;
  EXPECT_EQ(c.kv_pool_bytes, static_cast<std::int64_t>(static_cast<double>(free_after - c.activation_bytes) * 0.8));
  EXPECT_EQ(c.num_gpu_blocks, c.kv_pool_bytes / c.block_bytes);
}

TEST(KvCapacity, ModelThatDoesNotFitIsAClearError) {
  try {
    testing::scenario("model: llama-2-70b\ngpu: a100-40gb\nworkload: {num_requests: 10, arrival: {kind: all-at-once}}");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("weights"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kvsim
