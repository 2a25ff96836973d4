#pragma once
// Routers: which replica serves an arriving request (and, in disaggregated serving, which
// decode replica receives a prefilled request). A router sees a snapshot of each eligible
// replica's load and returns one; it never changes the replicas. Registered by name.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/cost/cost_model.h"
#include "sim/core/registry.h"

namespace kvsim {

struct RouteRequest {
  std::int32_t prompt_tokens = 0;
  std::int32_t output_tokens = 0;  // as the workload gives it (before any length effect)
  std::int64_t context_tokens = 0; // tokens already computed (a prefilled request handed to decode)
};

struct RouteCandidate {
  std::int32_t replica = 0;             // global replica index
  std::int64_t outstanding = 0;         // live requests (waiting + running + swapped)
  std::int32_t decoding = 0;            // requests in its decode batch now
  std::int64_t queued_prefill_tokens = 0;  // prompt tokens waiting ahead of this request
  double kv_used_fraction = 0;          // GPU KV blocks in use / capacity
  std::uint8_t method = 0;              // compression method the request would get there
  double length_multiplier = 1.0;       // that method's expected output-length multiplier
  const CostModel* cost = nullptr;      // that replica's step-time model
};

class Router {
 public:
  virtual ~Router() = default;
  virtual std::string name() const = 0;
  // Index into `candidates` (non-empty). Ties go to the lowest index (deterministic).
  virtual std::size_t choose(const RouteRequest& r, const std::vector<RouteCandidate>& candidates) = 0;
};

// The built-in routers by name (router.cpp; one entry per router).
using RouterRegistry = Registry<std::unique_ptr<Router>()>;
const RouterRegistry& router_registry();
std::vector<std::string> router_names();
// Throws InputError listing the routers when `name` is unknown.
std::unique_ptr<Router> make_router(const std::string& name);

// What compression_aware minimises: the request's predicted end-to-end latency on a
// replica = the prefill of the queued prompt tokens and its own (at the replica's prefill
// cost per token) + its predicted output length (output x the method's expected length
// multiplier) x the decode step time at the replica's batch plus this request, at the
// request's mean context over its decode.
double predicted_latency_ns(const RouteRequest& r, const RouteCandidate& c);

}  // namespace kvsim
