#include "../support/scratch.h"
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "sim/core/error.h"
#include "traces/length_distribution.h"
#include "traces/trace_reader.h"
#include "traces/workload.h"

namespace kvsim {
namespace {

std::string write_tmp(const std::string& name, const std::string& text) {
  const std::string path = ::kvsim::testing::scratch() + name;
  std::ofstream(path) << text;
  return path;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(TraceReader, CsvAndJsonlGiveTheSameRequests) {
  const auto csv = write_tmp("t.csv", "arrival_s,prompt_tokens,output_tokens,max_tokens,cached_prompt_tokens\n0.5,10,20,15,8\n1.25,11,21,,\n");
  const auto jsonl = write_tmp("t.jsonl",
                               "{\"arrival_s\": 0.5, \"prompt_tokens\": 10, \"output_tokens\": 20, \"max_tokens\": 15, "
                               "\"cached_prompt_tokens\": 8}\n"
                               "\n{\"arrival_s\": 1.25, \"prompt_tokens\": 11, \"output_tokens\": 21}\n");
  for (const auto& path : {csv, jsonl}) {
    auto r = open_trace(path);
    auto a = r->next();
    auto b = r->next();
    ASSERT_TRUE(a && b) << path;
    EXPECT_EQ(a->arrival, 500'000'000);
    EXPECT_EQ(a->prompt_tokens, 10);
    EXPECT_EQ(a->max_tokens, 15);
    EXPECT_EQ(a->cached_prompt_tokens, 8);
    EXPECT_EQ(b->cached_prompt_tokens, 0);
    EXPECT_EQ(b->id, 1);
    EXPECT_EQ(b->max_tokens, 0);
    EXPECT_FALSE(r->next());
  }
}

struct BadRow {
  const char* name;
  const char* text;
  const char* message;
};

TEST(TraceReader, MalformedRowsNameFileAndLine) {
  const BadRow cases[] = {
      {"fields.csv", "arrival_s,prompt_tokens,output_tokens\n0,1,2\n1,2\n", "fields.csv:3: expected 3 fields"},
      {"neg.csv", "arrival_s,prompt_tokens,output_tokens\n-1,1,2\n", "neg.csv:2: arrival_s must be >= 0"},
      {"zero.csv", "arrival_s,prompt_tokens,output_tokens\n0,0,2\n", "zero.csv:2: prompt_tokens must be an integer >= 1"},
      {"text.csv", "arrival_s,prompt_tokens,output_tokens\n0,1,abc\n", "text.csv:2: output_tokens must be an integer >= 1"},
      {"order.csv", "arrival_s,prompt_tokens,output_tokens\n2,1,1\n1,1,1\n", "order.csv:3: arrival_s goes backwards"},
      // Issue #16 item 1: simulated time and token counts have documented limits.
      {"late.csv", "arrival_s,prompt_tokens,output_tokens\n0,1,1\n2e9,1,1\n",
       "late.csv:3: arrival_s 2e9 is past kvsim's simulated-time limit of 1e9 s"},
      {"long.csv", "arrival_s,prompt_tokens,output_tokens\n0,1,200000000\n",
       "long.csv:2: output_tokens 200000000 is past kvsim's token limit of 1e8"},
      {"col.csv", "arrival_s,prompt_token,output_tokens\n", "col.csv:1: unknown column 'prompt_token' (did you mean 'prompt_tokens'?)"},
      {"bad.jsonl", "{\"arrival_s\": 0, \"prompt_tokens\": 1}\n{oops\n", "bad.jsonl:1: output_tokens must be an integer >= 1"},
      {"json2.jsonl", "{oops\n", "json2.jsonl:1: invalid JSON"},
      {"field.jsonl", "{\"arrival\": 0}\n", "field.jsonl:1: unknown field 'arrival'"},
      // A prefix-cache hit leaves at least one prompt token to compute.
      {"cached.csv", "arrival_s,prompt_tokens,output_tokens,cached_prompt_tokens\n0,10,2,10\n",
       "cached.csv:2: cached_prompt_tokens must be an integer in [0, prompt_tokens - 1] (got 10 of a 10-token prompt"},
      {"cached_neg.jsonl", "{\"arrival_s\": 0, \"prompt_tokens\": 10, \"output_tokens\": 2, \"cached_prompt_tokens\": -1}\n",
       "cached_neg.jsonl:1: cached_prompt_tokens must be an integer in [0, prompt_tokens - 1] (got -1"},
  };
  for (const auto& c : cases) {
    const auto path = write_tmp(c.name, c.text);
    const std::string msg = error_of([&] { validate_trace(path); });
    EXPECT_NE(msg.find(c.message), std::string::npos) << c.name << ": " << msg;
  }
}

TEST(LengthDistributions, SamplesStayInRangeAndMatchTheirShape) {
  Rng rng(3);
  auto u = make_uniform_length(5, 9);
  auto z = make_zipf_length(1.2, 1, 1000);
  auto ln = make_lognormal_length(std::log(100.0), 0.5, 4, 1000);
  int ones = 0;
  std::vector<int> lns;
  for (int i = 0; i < 50000; ++i) {
    const int a = u->sample(rng);
    ASSERT_TRUE(a >= 5 && a <= 9);
    const int b = z->sample(rng);
    ASSERT_TRUE(b >= 1 && b <= 1000);
    ones += b == 1;
    lns.push_back(ln->sample(rng));
  }
  // Zipf(1.2) over 1..1000: P(1) = 1 / H(1000, 1.2) ~ 0.2008.
  double h = 0;
  for (int k = 1; k <= 1000; ++k) h += std::pow(k, -1.2);
  EXPECT_NEAR(ones / 50000.0, 1.0 / h, 0.01);
  std::sort(lns.begin(), lns.end());
  EXPECT_NEAR(lns[25000], 100, 3);  // median of the lognormal
}

TEST(LengthDistributions, EmpiricalReadsAColumn) {
  const auto path = write_tmp("lens.csv", "id,output_tokens\n1,5\n2,7\n");
  EXPECT_EQ(read_length_column(path, "output_tokens"), (std::vector<std::int32_t>{5, 7}));
  EXPECT_NE(error_of([&] { read_length_column(path, "prompt_tokens"); }).find("no column 'prompt_tokens'"),
            std::string::npos);
  const auto bad = write_tmp("lens_bad.csv", "output_tokens\n5\n-2\n");
  EXPECT_NE(error_of([&] { read_length_column(bad, "output_tokens"); }).find("lens_bad.csv:3:"), std::string::npos);
}

TEST(ShareGptModel, ReproducesItsDocumentedStatistics) {
  Rng rng(11);
  auto p = make_sharegpt_length(LengthRole::kPrompt);
  auto o = make_sharegpt_length(LengthRole::kOutput);
  std::vector<int> ps, os;
  double psum = 0, osum = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    ps.push_back(p->sample(rng));
    os.push_back(o->sample(rng));
    psum += ps.back();
    osum += os.back();
  }
  std::sort(ps.begin(), ps.end());
  std::sort(os.begin(), os.end());
  EXPECT_NEAR(ps[n / 2], 141.5, 3);
  EXPECT_NEAR(os[n / 2], 164.5, 3);
  // Means of the fits after clamping to [4, 1024] (docs/workloads.md: ~221 and ~203).
  EXPECT_NEAR(psum / n, 221, 6);
  EXPECT_NEAR(osum / n, 203, 6);
}

TEST(ArrivalProcesses, MeanGapIsOneOverRateAndGammaHasItsCv) {
  Rng rng(1);
  auto p = make_poisson_arrivals(4.0);
  auto g = make_gamma_arrivals(4.0, 3.0);
  auto c = make_constant_arrivals(4.0);
  double ps = 0, gs = 0, gq = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    ps += p->next_gap_s(rng);
    const double x = g->next_gap_s(rng);
    gs += x;
    gq += x * x;
    ASSERT_DOUBLE_EQ(c->next_gap_s(rng), 0.25);
  }
  EXPECT_NEAR(ps / n, 0.25, 0.003);
  EXPECT_NEAR(gs / n, 0.25, 0.01);
  const double m = gs / n, sd = std::sqrt(gq / n - m * m);
  EXPECT_NEAR(sd / m, 3.0, 0.15);
  EXPECT_EQ(make_all_at_once_arrivals()->next_gap_s(rng), 0.0);
}

}  // namespace
}  // namespace kvsim
