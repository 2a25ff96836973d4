// Tensor/pipeline parallelism: shard shapes, collective costs in closed form, and the
// parallel cost model's decomposition (inner shard cost + communication).
#include <gtest/gtest.h>

#include <cmath>

#include "../support/run_helpers.h"
#include "models/cost/roofline_cost_model.h"
#include "models/parallel/collectives.h"
#include "models/parallel/parallel_cost_model.h"

namespace kvsim {
namespace {

TEST(Shard, SplitsHeadsFfnVocabAndLayers) {
  const ModelSpec m = testing::catalog().model("llama-3-70b");
  struct Case {
    int t, p;
    int heads, kv_heads, ffn, layers;
    const char* name;
  };
  const Case cases[] = {
      {1, 1, 64, 8, 28672, 80, "llama-3-70b"},   {4, 1, 16, 2, 7168, 80, "llama-3-70b-tp4"},
      {8, 1, 8, 1, 3584, 80, "llama-3-70b-tp8"}, {2, 4, 32, 4, 14336, 20, "llama-3-70b-tp2"},
      {1, 3, 64, 8, 28672, 27, "llama-3-70b"},   // 80 layers over 3 stages: the busiest holds 27
  };
  for (const Case& c : cases) {
    ParallelismSpec p;
    p.tensor = c.t;
    p.pipeline = c.p;
    EXPECT_TRUE(validate_parallelism(p, m).empty());
    const ModelSpec s = shard_model(m, p);
    EXPECT_EQ(s.num_attention_heads, c.heads) << c.t << "x" << c.p;
    EXPECT_EQ(s.num_kv_heads, c.kv_heads) << c.t << "x" << c.p;
    EXPECT_EQ(s.intermediate_size, c.ffn) << c.t << "x" << c.p;
    EXPECT_EQ(s.num_layers, c.layers) << c.t << "x" << c.p;
    EXPECT_EQ(s.name, c.name);
    EXPECT_EQ(s.vocab_size, (m.vocab_size + c.t - 1) / c.t);
    EXPECT_EQ(s.hidden_size, m.hidden_size);
  }
  // KV heads are replicated when the tensor degree exceeds them (8 KV heads, TP 16).
  ParallelismSpec p16;
  p16.tensor = 16;
  EXPECT_EQ(shard_model(m, p16).num_kv_heads, 1);
  // Per-GPU weights: a 1/T share (plus rounding), so the fp16 weights of 70B fit 4 ways.
  ParallelismSpec p4;
  p4.tensor = 4;
  const double ratio = static_cast<double>(shard_model(m, p4).num_parameters) / m.num_parameters;
  EXPECT_NEAR(ratio, 0.25, 0.005);
}

TEST(Shard, RejectsSplitsThatDoNotDivide) {
  const ModelSpec m = testing::catalog().model("llama-3-8b");  // 32 heads, 8 KV heads, 14336 FFN, 32 layers
  ParallelismSpec p;
  p.tensor = 3;
  ASSERT_FALSE(validate_parallelism(p, m).empty());
  EXPECT_EQ(validate_parallelism(p, m)[0], "tensor 3 does not divide llama-3-8b's 32 attention heads");
  p.tensor = 1;
  p.pipeline = 33;
  EXPECT_EQ(validate_parallelism(p, m).at(0), "pipeline 33 exceeds llama-3-8b's 32 layers");
}

TEST(Collectives, RingModelClosedForms) {
  const RingCollectives ring(400.0, 500.0);  // 400 B/ns, 0.5 us per hop
  struct Case {
    double bytes;
    int gpus;
  };
  for (const Case c : {Case{1 << 20, 2}, Case{1 << 20, 4}, Case{64e6, 8}, Case{4096, 4}}) {
    const double t = c.gpus;
    EXPECT_EQ(ring.all_reduce_ns(c.bytes, c.gpus),
              static_cast<Duration>(std::ceil(2 * (t - 1) * 500.0 + 2 * (t - 1) / t * c.bytes / 400.0)));
    EXPECT_EQ(ring.all_gather_ns(c.bytes, c.gpus),
              static_cast<Duration>(std::ceil((t - 1) * 500.0 + (t - 1) / t * c.bytes / 400.0)));
  }
  EXPECT_EQ(ring.send_ns(4e6), static_cast<Duration>(std::ceil(500.0 + 4e6 / 400.0)));
  EXPECT_EQ(ring.all_reduce_ns(1e6, 1), 0);  // one GPU: nothing to reduce
  EXPECT_EQ(ring.all_reduce_ns(0, 4), 0);
}

TEST(Collectives, MeasuredTableInterpolatesAndFallsBack) {
  const std::string csv = std::string(KVSIM_SOURCE_DIR) + "/calibration/data/h200-x4/nccl/allreduce.csv";
  const PiecewiseLogLog t = read_allreduce_csv(csv, 4);
  ASSERT_GE(t.x.size(), 5u);
  const TableCollectives table(t, 4, "test", RingCollectives(360.0, 500.0));
  // At a measured size the table gives the measured median (1 MiB: 8.047 us on 4 x H200).
  EXPECT_EQ(table.all_reduce_ns(1048576, 4), 8047);
  EXPECT_EQ(table.all_gather_ns(1048576, 4), static_cast<Duration>(std::ceil(8047 / 2.0)));
  // Other GPU counts use the ring model.
  EXPECT_EQ(table.all_reduce_ns(1048576, 2), RingCollectives(360.0, 500.0).all_reduce_ns(1048576, 2));
  // No rows for 8 GPUs: a clear error naming the file.
  try {
    read_allreduce_csv(csv, 8);
    FAIL() << "expected an error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), csv + ": no rows for 8 GPUs");
  }
}

TEST(Collectives, MeasuredAllGatherAndSendTablesAreUsedWhenInstalled) {
  const CollectiveTables t = find_collective_tables({std::string(KVSIM_SOURCE_DIR) + "/calibration/data"}, "h200", 2);
  ASSERT_TRUE(t.all_reduce && t.all_gather && t.send);
  EXPECT_EQ(t.source, "h200-x2/nccl/allreduce.csv, h200-x2/nccl/allgather.csv, h200-x2/nccl/sendrecv.csv");
  const TableCollectives c(t, 2, RingCollectives(360.0, 500.0));
  // Measured points on 2 x H200 (calibration/data/h200-x2/nccl).
  EXPECT_EQ(c.send_ns(1048576), 13193);  // 13.192 us, ceil to ns
  EXPECT_EQ(c.all_gather_ns(2097152, 2), 4776);
  EXPECT_EQ(c.all_reduce_ns(1048576, 2), 4302);
  // 8-way TP: no 8-GPU tables, the sends are still measured.
  const CollectiveTables t8 = find_collective_tables({std::string(KVSIM_SOURCE_DIR) + "/calibration/data"}, "h200", 8);
  EXPECT_FALSE(t8.all_reduce.has_value());
  EXPECT_TRUE(t8.send.has_value());
}

// The parallel model = the shard's cost with stage ops x P + 2 all-reduces per layer and
// stage + one for the embedding + the logits gather + (P - 1) stage sends.
TEST(ParallelCost, DecomposesIntoShardComputeAndCommunication) {
  const ModelSpec m = testing::catalog().model("llama-3-70b");
  const GpuSpec gpu = testing::catalog().gpu("h200");
  for (const auto& [t, pp] : {std::pair{4, 1}, std::pair{2, 2}, std::pair{1, 4}, std::pair{8, 2}}) {
    ParallelismSpec p;
    p.tensor = t;
    p.pipeline = pp;
    const ModelSpec shard = shard_model(m, p);
    const HostModel overhead = host_model_preset("cuda-graph");
    const RooflineCostModel inner(shard, gpu, overhead);
    const RingCollectives ring = ring_collectives(p, gpu);
    const ParallelCostModel par(std::make_unique<RooflineCostModel>(shard, gpu, overhead), shard, p,
                                std::make_unique<RingCollectives>(ring));
    BatchShape b;
    b.decode = {BatchShape::uniform_decode(64, 2048)};
    b.prefills.push_back({512, 0, true, 0});
    const StepCost base = inner.step_cost(b);
    const StepCost got = par.step_cost(b);
    const double act = static_cast<double>(b.tokens()) * m.hidden_size * 2.0;
    Duration want_tp = 0;
    if (t > 1) {
      want_tp = static_cast<Duration>(pp) * shard.num_layers * 2 * ring.all_reduce_ns(act, t) +
                ring.all_reduce_ns(act, t) +
                ring.all_gather_ns(static_cast<double>(b.sampled_rows()) * shard.vocab_size * t * 2.0, t);
    }
    EXPECT_EQ(got[Op::kCommTp].ns, want_tp) << t << "x" << pp;
    EXPECT_EQ(got[Op::kCommPp].ns, static_cast<Duration>(pp - 1) * ring.send_ns(2 * act)) << t << "x" << pp;
    EXPECT_EQ(got[Op::kQkvProj].ns, base[Op::kQkvProj].ns * pp);
    EXPECT_EQ(got[Op::kAttnDecode].ns, base[Op::kAttnDecode].ns * pp);
    EXPECT_EQ(got[Op::kLmHead].ns, base[Op::kLmHead].ns);  // last stage only
    EXPECT_EQ(got.cpu_ns, base.cpu_ns);
    Duration sum = 0;
    for (std::size_t i = 0; i < kNumOps; ++i) {
      if (static_cast<Op>(i) != Op::kCpuOverhead) sum += got.ops[i].ns;
    }
    EXPECT_EQ(got.gpu_ns, sum);
    EXPECT_EQ(got.total_ns, got.gpu_ns + got.cpu_ns);
  }
}

TEST(ParallelCost, OverlapHidesAtMostTheLayersCompute) {
  const ModelSpec m = testing::catalog().model("llama-3-8b");
  const GpuSpec gpu = testing::catalog().gpu("h200");
  ParallelismSpec p;
  p.tensor = 4;
  const ModelSpec shard = shard_model(m, p);
  auto tp_ns = [&](double overlap) {
    ParallelismSpec q = p;
    q.comm_overlap = overlap;
    const ParallelCostModel par(std::make_unique<RooflineCostModel>(shard, gpu, host_model_preset("cuda-graph")), shard,
                                q, std::make_unique<RingCollectives>(ring_collectives(q, gpu)));
    BatchShape b;
    b.prefills.push_back({8192, 0, true, 0});
    return par.step_cost(b)[Op::kCommTp].ns;
  };
  EXPECT_GT(tp_ns(0.0), tp_ns(0.5));
  EXPECT_GT(tp_ns(0.5), tp_ns(1.0));
  EXPECT_GT(tp_ns(1.0), 0);  // the embedding all-reduce and logits gather are never hidden
}

}  // namespace
}  // namespace kvsim
