#include "sim/serving/decode_pool.h"

#include <algorithm>
#include <limits>

#include "sim/core/error.h"

namespace kvsim {

namespace {
std::int64_t mod(std::int64_t a, std::int64_t m) {
  const std::int64_t r = a % m;
  return r < 0 ? r + m : r;
}
std::int64_t pages(std::int64_t tokens, int per_page) { return tokens <= 0 ? 0 : (tokens + per_page - 1) / per_page; }
}  // namespace

DecodePool::DecodePool(std::vector<RequestState>& slots, std::vector<PoolGroupSpec> groups) : slots_(slots) {
  for (const auto& g : groups) {
    Group grp;
    grp.spec = g;
    grp.phase_hist.assign(static_cast<std::size_t>(g.tokens_per_page), 0);
    groups_.push_back(std::move(grp));
  }
}

std::int64_t DecodePool::resident(const RequestState& r) const {
  if (r.capped) return groups_[r.method].spec.cap;
  return r.res_key + steps_;
}

std::int64_t DecodePool::blocks(const RequestState& r) const {
  return pages(resident(r), groups_[r.method].spec.tokens_per_page);
}

bool DecodePool::needs_block_next_step(const RequestState& r) const {
  if (r.capped) return false;
  return mod(r.res_key + steps_, groups_[r.method].spec.tokens_per_page) == 0;
}

void DecodePool::recompute_need() {
  need_ = 0;
  for (const Group& g : groups_) {
    if (g.count == 0) continue;
    // res_key + steps == 0 (mod p)  <=>  res_key == -steps (mod p)
    need_ += g.phase_hist[static_cast<std::size_t>(mod(-steps_, g.spec.tokens_per_page))];
  }
}

void DecodePool::add(std::int32_t slot) {
  RequestState& r = slots_[static_cast<std::size_t>(slot)];
  if (r.decoding) throw InvariantViolation("request added to the decode pool twice");
  if (r.generated >= r.target_output) throw InvariantViolation("finished request added to the decode pool");
  Group& g = groups_[r.method];
  if (r.resident_tokens > g.spec.cap) throw InvariantViolation("request joins the decode pool above its cap");
  r.decoding = true;
  r.res_key = r.resident_tokens - steps_;
  r.gen_key = r.generated - steps_;
  ++count_;
  g.prompt_sum += r.spec.prompt_tokens;
  g.gen_key_sum += r.gen_key;
  finish_.push({r.target_output - r.gen_key, slot, r.epoch});
  if (r.resident_tokens == g.spec.cap) {
    r.capped = true;
    ++g.capped;
  } else {
    r.capped = false;
    ++g.count;
    g.key_sum += r.res_key;
    g.keys.insert(r.res_key);
    ++g.phase_hist[static_cast<std::size_t>(mod(r.res_key, g.spec.tokens_per_page))];
    if (g.spec.cap < std::numeric_limits<std::int64_t>::max() / 8) cap_.push({g.spec.cap - r.res_key, slot, r.epoch});
  }
  recompute_need();
}

void DecodePool::remove(std::int32_t slot) {
  RequestState& r = slots_[static_cast<std::size_t>(slot)];
  if (!r.decoding) throw InvariantViolation("request removed from the decode pool but not in it");
  Group& g = groups_[r.method];
  r.resident_tokens = resident(r);
  r.generated = generated(r);
  r.blocks = pages(r.resident_tokens, g.spec.tokens_per_page);
  r.decoding = false;
  ++r.epoch;
  --count_;
  g.prompt_sum -= r.spec.prompt_tokens;
  g.gen_key_sum -= r.gen_key;
  if (r.capped) {
    --g.capped;
  } else {
    --g.count;
    g.key_sum -= r.res_key;
    g.keys.erase(g.keys.find(r.res_key));
    --g.phase_hist[static_cast<std::size_t>(mod(r.res_key, g.spec.tokens_per_page))];
  }
  r.capped = false;
  recompute_need();
}

void DecodePool::capped_now(std::int32_t slot) {
  RequestState& r = slots_[static_cast<std::size_t>(slot)];
  Group& g = groups_[r.method];
  --g.count;
  g.key_sum -= r.res_key;
  g.keys.erase(g.keys.find(r.res_key));
  --g.phase_hist[static_cast<std::size_t>(mod(r.res_key, g.spec.tokens_per_page))];
  r.capped = true;
  ++g.capped;
}

bool DecodePool::stale(const HeapEntry& e) const {
  const RequestState& r = slots_[static_cast<std::size_t>(e.slot)];
  return !r.decoding || r.epoch != e.epoch;
}

void DecodePool::advance() {
  ++steps_;
  while (!cap_.empty() && cap_.top().step <= steps_) {
    const HeapEntry e = cap_.top();
    cap_.pop();
    if (!stale(e) && !slots_[static_cast<std::size_t>(e.slot)].capped) capped_now(e.slot);
  }
  recompute_need();
}

std::int64_t DecodePool::resident_sum(std::size_t gi) const {
  const Group& g = groups_[gi];
  return g.key_sum + static_cast<std::int64_t>(g.count) * steps_ + static_cast<std::int64_t>(g.capped) * g.spec.cap;
}

std::int64_t DecodePool::resident_max(std::size_t gi) const {
  const Group& g = groups_[gi];
  std::int64_t m = g.capped > 0 ? g.spec.cap : 0;
  if (!g.keys.empty()) m = std::max(m, *g.keys.rbegin() + steps_);
  return m;
}

std::int64_t DecodePool::logical_sum(std::size_t gi) const {
  const Group& g = groups_[gi];
  const std::int64_t n = g.count + g.capped;
  return g.prompt_sum + g.gen_key_sum + n * steps_ - n;
}

std::int32_t DecodePool::pop_finished() {
  while (!finish_.empty() && stale(finish_.top())) finish_.pop();
  if (finish_.empty() || finish_.top().step > steps_) return -1;
  const std::int32_t slot = finish_.top().slot;
  finish_.pop();
  return slot;
}

}  // namespace kvsim
