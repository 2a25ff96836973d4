#include "sim/metrics/output_writers.h"

#include <cstdio>

namespace kvsim {

namespace {
std::string num(double v, int precision = 6) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", precision, v);
  return buf;
}
}  // namespace

RequestCsvWriter::RequestCsvWriter(const std::string& path) : file_(path) {
  file_.stream() << "id,status,replica,arrival_s,first_scheduled_s,first_token_s,finish_s,prompt_tokens,"
                    "output_tokens,ttft_ms,tpot_ms,e2e_ms,preemptions_recompute,preemptions_swap,method\n";
}

void RequestCsvWriter::on_finish(const RequestRecord& r) {
  const double ttft = to_ms(r.first_token - r.spec.arrival);
  const double tpot = r.output_tokens > 1 ? to_ms(r.finish - r.first_token) / (r.output_tokens - 1) : 0.0;
  file_.stream() << r.spec.id << ",finished," << r.replica << ',' << num(to_seconds(r.spec.arrival)) << ','
                 << num(to_seconds(r.first_scheduled)) << ',' << num(to_seconds(r.first_token)) << ','
                 << num(to_seconds(r.finish)) << ',' << r.spec.prompt_tokens << ',' << r.output_tokens << ','
                 << num(ttft, 3) << ',' << num(tpot, 3) << ',' << num(to_ms(r.finish - r.spec.arrival), 3) << ','
                 << r.preempt_recompute << ',' << r.preempt_swap << ',' << static_cast<int>(r.method) << '\n';
}

void RequestCsvWriter::on_reject(const RequestSpec& r, SimTime now, const std::string&) {
  file_.stream() << r.id << ",rejected,0," << num(to_seconds(r.arrival)) << ",,,"
                 << num(to_seconds(now)) << ',' << r.prompt_tokens << ",0,,,,0,0,\n";
}

TimeseriesWriter::TimeseriesWriter(const std::string& path) : file_(path) {
  file_.stream() << "time_s,replica,running,decoding,waiting,swapped,kv_used_blocks,kv_utilization\n";
}

void TimeseriesWriter::on_sample(const SampleRecord& s) {
  const double u = s.kv_capacity_blocks ? static_cast<double>(s.kv_used_blocks) / s.kv_capacity_blocks : 0.0;
  file_.stream() << num(to_seconds(s.time), 3) << ',' << s.replica << ',' << s.running << ',' << s.decoding << ','
                 << s.waiting << ',' << s.swapped << ',' << s.kv_used_blocks << ',' << num(u, 4) << '\n';
}

ChromeTraceWriter::ChromeTraceWriter(const std::string& path, std::int64_t max_events)
    : file_(path), max_events_(max_events) {
  file_.stream() << "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n"
                    "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":0,\"args\":{\"name\":\"kvsim\"}}";
}

bool ChromeTraceWriter::room() {
  if (events_ >= max_events_) {
    truncated_ = true;
    return false;
  }
  ++events_;
  return true;
}

void ChromeTraceWriter::on_step(const StepRecord& s) {
  if (!room()) return;
  const char* name = s.prefill_requests > 0 ? (s.decode_rows > 0 ? "mixed" : "prefill") : "decode";
  const double kv = s.kv_capacity_blocks ? static_cast<double>(s.kv_used_blocks) / s.kv_capacity_blocks : 0.0;
  file_.stream() << ",\n{\"name\":\"" << name << "\",\"ph\":\"X\",\"pid\":0,\"tid\":" << s.replica
                 << ",\"ts\":" << num(static_cast<double>(s.start) / 1e3, 3)
                 << ",\"dur\":" << num(static_cast<double>(s.end - s.start) / 1e3, 3)
                 << ",\"args\":{\"decode_rows\":" << s.decode_rows << ",\"prefill_requests\":" << s.prefill_requests
                 << ",\"prefill_tokens\":" << s.prefill_tokens << ",\"kv_utilization\":" << num(kv, 4) << "}}";
}

void ChromeTraceWriter::on_preempt(std::int64_t id, PreemptKind kind, SimTime now, std::int64_t) {
  if (!room()) return;
  file_.stream() << ",\n{\"name\":\"preempt " << (kind == PreemptKind::kSwap ? "swap" : "recompute")
                 << "\",\"ph\":\"i\",\"s\":\"t\",\"pid\":0,\"tid\":0,\"ts\":"
                 << num(static_cast<double>(now) / 1e3, 3) << ",\"args\":{\"request\":" << id << "}}";
}

void ChromeTraceWriter::commit() {
  file_.stream() << "\n],\"otherData\":{\"truncated\":" << (truncated_ ? "true" : "false")
                 << ",\"max_events\":" << max_events_ << "}}\n";
  file_.commit();
}

}  // namespace kvsim
