#include "sim/serving/router.h"

#include <algorithm>
#include <functional>

#include "sim/core/error.h"

namespace kvsim {

namespace {

// Picks the candidate with the smallest key (first one on ties).
template <class Key>
std::size_t argmin(const std::vector<RouteCandidate>& cs, Key key) {
  std::size_t best = 0;
  auto best_key = key(cs[0]);
  for (std::size_t i = 1; i < cs.size(); ++i) {
    const auto k = key(cs[i]);
    if (k < best_key) {
      best = i;
      best_key = k;
    }
  }
  return best;
}

class RoundRobin final : public Router {
 public:
  std::string name() const override { return "round_robin"; }
  std::size_t choose(const RouteRequest&, const std::vector<RouteCandidate>& cs) override {
    return static_cast<std::size_t>(next_++ % cs.size());
  }

 private:
  std::uint64_t next_ = 0;
};

class LeastOutstanding final : public Router {
 public:
  std::string name() const override { return "least_outstanding"; }
  std::size_t choose(const RouteRequest&, const std::vector<RouteCandidate>& cs) override {
    return argmin(cs, [](const RouteCandidate& c) { return c.outstanding; });
  }
};

class LeastKv final : public Router {
 public:
  std::string name() const override { return "least_kv"; }
  std::size_t choose(const RouteRequest&, const std::vector<RouteCandidate>& cs) override {
    // Equal memory use (e.g. all idle): the one with fewer requests.
    return argmin(cs, [](const RouteCandidate& c) { return std::make_pair(c.kv_used_fraction, c.outstanding); });
  }
};

class CompressionAware final : public Router {
 public:
  std::string name() const override { return "compression_aware"; }
  std::size_t choose(const RouteRequest& r, const std::vector<RouteCandidate>& cs) override {
    return argmin(cs, [&](const RouteCandidate& c) { return predicted_latency_ns(r, c); });
  }
};

}  // namespace

double predicted_latency_ns(const RouteRequest& r, const RouteCandidate& c) {
  const double out = std::max(1.0, r.output_tokens * c.length_multiplier);
  double prefill = 0;
  if (r.context_tokens == 0) {
    BatchShape p;
    p.prefills.push_back({std::max(1, r.prompt_tokens), 0, true, c.method});
    const double own = static_cast<double>(c.cost->step_cost(p).total_ns);
    prefill = own * (1.0 + static_cast<double>(c.queued_prefill_tokens) / std::max(1, r.prompt_tokens));
  }
  const double context = static_cast<double>(r.prompt_tokens) + out / 2.0;
  BatchShape d;
  d.decode.push_back(BatchShape::uniform_decode(c.decoding + 1, static_cast<std::int32_t>(std::min(context, 2.0e9)), c.method));
  const double step = static_cast<double>(c.cost->step_cost(d).total_ns);
  return prefill + out * step;
}

const RouterRegistry& router_registry() {
  static const RouterRegistry registry(
      "router",
      {{"round_robin", "each arrival to the next replica in turn", {}, [] { return std::make_unique<RoundRobin>(); }},
       {"least_outstanding", "the replica with the fewest outstanding requests", {},
        [] { return std::make_unique<LeastOutstanding>(); }},
       {"least_kv", "the replica with the smallest share of KV in use (then the fewest outstanding requests)", {}, [] { return std::make_unique<LeastKv>(); }},
       {"compression_aware", "the replica with the lowest predicted end-to-end latency for this request", {},
        [] { return std::make_unique<CompressionAware>(); }}});
  return registry;
}

std::vector<std::string> router_names() { return router_registry().names(); }

std::unique_ptr<Router> make_router(const std::string& name) { return router_registry().make(name); }

}  // namespace kvsim
