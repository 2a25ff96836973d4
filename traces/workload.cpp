#include "traces/workload.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "sim/core/error.h"
#include "sim/core/limits.h"
#include "traces/length_distribution.h"
#include "traces/trace_reader.h"

namespace kvsim {

namespace {

class Poisson final : public ArrivalProcess {
 public:
  explicit Poisson(double rate) : rate_(rate) {}
  double next_gap_s(Rng& rng) const override { return rng.exponential(rate_); }
  std::string describe() const override { return "poisson " + fmt(rate_) + " req/s"; }
  static std::string fmt(double v) {
    std::ostringstream os;
    os << v;
    return os.str();
  }

 private:
  double rate_;
};

class Gamma final : public ArrivalProcess {
 public:
  Gamma(double rate, double cv) : rate_(rate), cv_(cv), shape_(1.0 / (cv * cv)), scale_(cv * cv / rate) {}
  double next_gap_s(Rng& rng) const override { return rng.gamma(shape_, scale_); }
  std::string describe() const override {
    return "gamma " + Poisson::fmt(rate_) + " req/s, cv " + Poisson::fmt(cv_);
  }

 private:
  double rate_, cv_, shape_, scale_;
};

class Constant final : public ArrivalProcess {
 public:
  explicit Constant(double rate) : rate_(rate) {}
  double next_gap_s(Rng&) const override { return 1.0 / rate_; }
  std::string describe() const override { return "constant " + Poisson::fmt(rate_) + " req/s"; }

 private:
  double rate_;
};

class AllAtOnce final : public ArrivalProcess {
 public:
  double next_gap_s(Rng&) const override { return 0.0; }
  std::string describe() const override { return "all at once (offline batch)"; }
};

// The decoded synthetic workload; its generators share the (const) distributions.
struct SyntheticParams {
  std::int64_t n = 0;
  std::shared_ptr<const ArrivalProcess> arrivals;
  std::shared_ptr<const LengthDistribution> prompt, output;
  std::int32_t max_tokens = 0;
};

class SyntheticWorkload final : public Workload {
 public:
  SyntheticWorkload(std::shared_ptr<const SyntheticParams> p, const RngStreams& rng)
      : p_(std::move(p)),
        arrival_rng_(rng.stream("workload.arrivals")),
        prompt_rng_(rng.stream("workload.prompt_tokens")),
        output_rng_(rng.stream("workload.output_tokens")) {}

  std::optional<RequestSpec> next() override {
    if (emitted_ >= p_->n) return std::nullopt;
    // The first request arrives at t=0 so that a run never starts with idle time.
    if (emitted_ > 0) clock_s_ += p_->arrivals->next_gap_s(arrival_rng_);
    // Simulated time is int64 nanoseconds; a tiny rate must not overflow it into a time that
    // runs backwards. 1e9 s (31.7 years) leaves room for any run that follows the arrivals.
    if (!(clock_s_ <= kSimTimeLimitS)) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "%.3g s", clock_s_);
      throw InputError("workload.arrival.rate_per_s: request " + std::to_string(emitted_) + " would arrive at " + buf +
                       ", past kvsim's simulated-time limit of 1e9 s (31.7 years); raise rate_per_s or lower "
                       "num_requests");
    }
    RequestSpec r;
    r.id = emitted_++;
    r.arrival = seconds_to_ns(clock_s_);
    r.prompt_tokens = p_->prompt->sample(prompt_rng_);
    r.output_tokens = p_->output->sample(output_rng_);
    r.max_tokens = p_->max_tokens;
    return r;
  }

 private:
  std::shared_ptr<const SyntheticParams> p_;
  Rng arrival_rng_, prompt_rng_, output_rng_;
  std::int64_t emitted_ = 0;
  double clock_s_ = 0.0;
};

class SyntheticSpec final : public WorkloadSpec {
 public:
  explicit SyntheticSpec(SyntheticParams p) : p_(std::make_shared<const SyntheticParams>(std::move(p))) {}
  std::unique_ptr<Workload> start(const RngStreams& rng) const override {
    return std::make_unique<SyntheticWorkload>(p_, rng);
  }
  std::string describe() const override {
    return std::to_string(p_->n) + " requests, " + p_->arrivals->describe() + "; prompt " + p_->prompt->describe() +
           "; output " + p_->output->describe();
  }
  std::int32_t max_prompt_tokens() const override { return p_->prompt->max_value(); }
  std::string max_prompt_origin() const override {
    return "workload.prompt_tokens (max " + std::to_string(p_->prompt->max_value()) + ")";
  }
  std::int64_t size_hint() const override { return p_->n; }

 private:
  std::shared_ptr<const SyntheticParams> p_;
};

class TraceWorkload final : public Workload {
 public:
  TraceWorkload(const std::string& path, double time_scale, std::int64_t limit)
      : reader_(open_trace(path, time_scale)), limit_(limit) {}
  std::optional<RequestSpec> next() override {
    if (emitted_ >= limit_) return std::nullopt;
    auto r = reader_->next();
    if (r) ++emitted_;
    return r;
  }

 private:
  std::unique_ptr<TraceReader> reader_;
  std::int64_t limit_;
  std::int64_t emitted_ = 0;
};

// A trace validated once (validate_trace reads it through); each run reads it again as it goes.
class TraceSpec final : public WorkloadSpec {
 public:
  TraceSpec(std::string path, double time_scale, std::int64_t limit)
      : path_(std::move(path)), time_scale_(time_scale), stats_(validate_trace(path_)),
        limit_(limit > 0 ? std::min(limit, stats_.rows) : stats_.rows) {}
  std::unique_ptr<Workload> start(const RngStreams&) const override {
    return std::make_unique<TraceWorkload>(path_, time_scale_, limit_);
  }
  std::string describe() const override {
    return "trace " + path_ + " (" + std::to_string(limit_) + " of " + std::to_string(stats_.rows) + " requests)";
  }
  std::int32_t max_prompt_tokens() const override { return stats_.max_prompt; }
  std::string max_prompt_origin() const override {
    return path_ + ":" + std::to_string(stats_.max_prompt_line) + " (prompt_tokens " +
           std::to_string(stats_.max_prompt) + ")";
  }
  std::int64_t size_hint() const override { return limit_; }
  const std::vector<std::string>& method_names() const override { return stats_.methods; }

 private:
  std::string path_;
  double time_scale_;
  TraceStats stats_;
  std::int64_t limit_;
};

// The rate every arrival process but all-at-once needs.
double required_rate(ConfigReader& r) {
  if (!r.has("rate_per_s")) {
    r.error("rate_per_s", "required key is missing");
    return 1.0;
  }
  // A rate too low for its requests to arrive within simulated time is refused at the
  // arrival that would pass the limit (SyntheticWorkload::next), naming that request.
  return r.get<double>("rate_per_s", 1.0, positive_upto(1e9, "requests/s"));
}

std::unique_ptr<ArrivalProcess> decode_arrivals(ConfigReader r) {
  const std::string kind = r.get<std::string>("kind", "poisson");
  std::unique_ptr<ArrivalProcess> out;
  if (const auto* e = arrival_registry().find(kind)) out = e->make(r);
  else r.error("kind", arrival_registry().unknown(kind));
  r.finish();
  return out;
}

}  // namespace

std::unique_ptr<ArrivalProcess> make_poisson_arrivals(double rate) { return std::make_unique<Poisson>(rate); }
std::unique_ptr<ArrivalProcess> make_gamma_arrivals(double rate, double cv) { return std::make_unique<Gamma>(rate, cv); }
std::unique_ptr<ArrivalProcess> make_constant_arrivals(double rate) { return std::make_unique<Constant>(rate); }
std::unique_ptr<ArrivalProcess> make_all_at_once_arrivals() { return std::make_unique<AllAtOnce>(); }
const ArrivalRegistry& arrival_registry() {
  static const ArrivalRegistry registry(
      "arrival process",
      {{"poisson", "exponential gaps at rate_per_s", {}, [](ConfigReader& r) { return make_poisson_arrivals(required_rate(r)); }},
       {"gamma", "gamma gaps at rate_per_s with coefficient of variation cv (> 1 burstier than Poisson)", {},
        [](ConfigReader& r) {
          const double rate = required_rate(r);
          return make_gamma_arrivals(rate, r.require<double>("cv", positive_upto(100)));
        }},
       {"constant", "evenly spaced at rate_per_s", {}, [](ConfigReader& r) { return make_constant_arrivals(required_rate(r)); }},
       {"all-at-once", "every request at t = 0 (offline batch)", {},
        [](ConfigReader&) { return make_all_at_once_arrivals(); }}});
  return registry;
}

std::vector<std::string> arrival_kinds() { return arrival_registry().names(); }

std::shared_ptr<const WorkloadSpec> decode_workload(ConfigReader r, const std::string& base_dir) {
  const auto trace = r.get_optional<std::string>("trace");
  const std::int64_t n = r.get<std::int64_t>("num_requests", trace ? 0 : 1000,
                                             closed(trace ? 0 : 1, 1e10, trace ? "requests (0 = the whole trace)" : "requests"));
  std::shared_ptr<const WorkloadSpec> out;
  if (trace) {
    const double scale = r.get<double>("time_scale", 1.0, positive_upto(1e6));
    for (const char* k : {"arrival", "prompt_tokens", "output_tokens", "max_tokens"}) {
      if (r.has(k)) r.error(k, "cannot be combined with 'trace' (the trace gives arrivals and lengths)");
    }
    std::string path = *trace;
    namespace fs = std::filesystem;
    if (!fs::path(path).is_absolute() && !base_dir.empty() && fs::exists(fs::path(base_dir) / path)) {
      path = (fs::path(base_dir) / path).string();
    }
    if (r.errors().empty()) {
      try {
        out = std::make_shared<const TraceSpec>(path, scale > 0 ? scale : 1.0, n);
      } catch (const InputError& e) {
        r.error("trace", e.what());
      }
    }
    r.finish();
    return out;
  }
  if (r.has("time_scale")) r.error("time_scale", "only applies to trace workloads");
  const std::int32_t max_tokens = r.get<int>("max_tokens", 0, closed(0, kMaxTokens, "tokens (0 = no cap)"));
  auto arrivals = decode_arrivals(r.child("arrival"));
  // A missing length section means the built-in ShareGPT-like model.
  auto lengths = [&](const char* key, LengthRole role) {
    return r.has(key) ? decode_length_distribution(r.child(key), role, base_dir) : make_sharegpt_length(role);
  };
  std::unique_ptr<LengthDistribution> prompt = lengths("prompt_tokens", LengthRole::kPrompt);
  std::unique_ptr<LengthDistribution> output = lengths("output_tokens", LengthRole::kOutput);
  r.finish();
  if (!arrivals || !prompt || !output || n < 1) return nullptr;
  return std::make_shared<const SyntheticSpec>(
      SyntheticParams{n, std::move(arrivals), std::move(prompt), std::move(output), std::max(0, max_tokens)});
}

}  // namespace kvsim
