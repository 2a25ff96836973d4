#include "sim/metrics/run_summary.h"

namespace kvsim {

nlohmann::json to_json(const Distribution& d) {
  return {{"mean", d.mean}, {"p50", d.p50}, {"p90", d.p90}, {"p95", d.p95},
          {"p99", d.p99},   {"max", d.max}, {"count", d.count}};
}

nlohmann::json to_json(const RunSummary& s) {
  nlohmann::json j;
  const auto& r = s.requests;
  j["requests"] = {{"arrived", r.arrived}, {"finished", r.finished}, {"rejected", r.rejected},
                   {"unfinished", r.unfinished}};
  if (!r.rejections.empty()) j["requests"]["rejections"] = r.rejections;
  j["duration_s"] = s.duration_s;
  j["goodput"] = {{"fraction", s.goodput.fraction}, {"ttft_limit_s", s.goodput.ttft_limit_s},
                  {"tpot_limit_s", s.goodput.tpot_limit_s}};
  j["arrival_window_s"] = s.arrival_window_s;
  j["drain_s"] = s.drain_s;
  j["simulated_s"] = s.simulated_s;
  const auto& t = s.throughput;
  j["throughput"] = {{"requests_per_s", t.requests_per_s}, {"prompt_tokens_per_s", t.prompt_tokens_per_s},
                     {"output_tokens_per_s", t.output_tokens_per_s}, {"prompt_tokens", t.prompt_tokens},
                     {"output_tokens", t.output_tokens}};
  const auto& l = s.latency_s;
  j["latency_s"] = {{"ttft", to_json(l.ttft)}, {"tpot", to_json(l.tpot)}, {"itl", to_json(l.itl)},
                    {"e2e", to_json(l.e2e)},   {"queueing", to_json(l.queueing)}};
  const auto& p = s.preemptions;
  j["preemptions"] = {{"recompute", p.recompute}, {"swap", p.swap}, {"swapped_bytes", p.swapped_bytes},
                      {"recomputed_tokens", p.recomputed_tokens}};
  j["kv_utilization"] = {{"mean", s.kv_utilization.mean}, {"max", s.kv_utilization.max}};
  j["batch_size"] = to_json(s.batch_size);
  const auto& c = s.compression;
  j["compression"] = {{"achieved_ratio", c.achieved_ratio},       {"baseline_output_tokens", c.baseline_output_tokens},
                      {"output_tokens", c.output_tokens},         {"output_length_ratio", c.output_length_ratio},
                      {"share_1_5x_longer", c.share_1_5x_longer}, {"share_2x_shorter", c.share_2x_shorter}};
  nlohmann::json ops = nlohmann::json::value_t::null;
  for (const auto& o : s.op_time) ops[o.op] = {{"total_s", o.total_s}, {"per_step_ms", o.per_step_ms}};
  j["op_time"] = ops;
  j["steps"] = s.steps;
  j["busy_fraction"] = s.busy_fraction;
  j["gpu_busy_fraction"] = s.gpu_busy_fraction;
  j["queueing_trend_s"] = {{"first_quarter", s.queueing_trend_s.first_quarter},
                           {"last_quarter", s.queueing_trend_s.last_quarter}};
  j["littles_law"] = {{"mean_in_system", s.littles_law.mean_in_system},
                      {"arrival_rate_per_s", s.littles_law.arrival_rate_per_s},
                      {"mean_e2e_s", s.littles_law.mean_e2e_s}};
  return j;
}

}  // namespace kvsim
