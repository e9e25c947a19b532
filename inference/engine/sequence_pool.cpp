// Cached sequences with prefix reuse (see sequence_pool.h).
#include "rapide/inference/engine/sequence_pool.h"

#include <algorithm>
#include <cassert>

namespace rapide::inference::engine {

void CachedSequence::truncate(std::int32_t n) {
  n = std::clamp<std::int32_t>(n, 0, static_cast<std::int32_t>(tokens.size()));
  kv->truncate(n);
  tokens.resize(static_cast<std::size_t>(n));
}

std::size_t common_prefix(std::span<const std::int32_t> a, std::span<const std::int32_t> b) {
  const std::size_t n = std::min(a.size(), b.size());
  std::size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

SequencePool::SequencePool(CacheFactory new_cache, std::size_t max_bytes, std::size_t max_sequences,
                           std::int32_t max_capacity)
    : new_cache_(std::move(new_cache)), max_bytes_(max_bytes), max_sequences_(max_sequences), max_capacity_(max_capacity) {}

std::int32_t SequencePool::bucket(std::int32_t needed) const {
  const std::int64_t rounded = (static_cast<std::int64_t>(std::max(needed, 1)) + 255) / 256 * 256;
  return static_cast<std::int32_t>(std::min<std::int64_t>(rounded, max_capacity_));
}

Result<SequencePool::Acquired> SequencePool::acquire(std::span<const std::int32_t> prompt, std::int32_t needed_capacity) {
  if (needed_capacity > max_capacity_)
    return error("sequence pool: ", needed_capacity, " tokens needed, the context holds ", max_capacity_);
  auto best = lru_.end();
  std::size_t best_len = 0;
  for (auto it = lru_.begin(); it != lru_.end(); ++it) {
    if ((*it)->kv->capacity() < needed_capacity) continue;
    const std::size_t len = common_prefix((*it)->tokens, prompt);
    if (len > best_len) {  // strict: ties keep the more recently used (earlier in the list)
      best_len = len;
      best = it;
    }
  }
  Acquired a;
  if (best != lru_.end()) {
    a.seq = std::move(*best);
    lru_.erase(best);
    // Keep at least one prompt token to feed, so the last prompt position has logits.
    const std::size_t keep = std::min(best_len, prompt.empty() ? 0 : prompt.size() - 1);
    a.seq->truncate(static_cast<std::int32_t>(keep));
    a.reused_tokens = static_cast<std::int32_t>(keep);
    return a;
  }
  auto kv = new_cache_(bucket(needed_capacity));
  if (!kv) return kv.error();
  a.seq = std::make_unique<CachedSequence>();
  a.seq->kv = std::move(*kv);
  return a;
}

void SequencePool::release(std::unique_ptr<CachedSequence> seq) {
  if (!seq || !seq->kv) return;
  assert(seq->kv->size() == static_cast<std::int32_t>(seq->tokens.size()));
  if (seq->tokens.empty()) return;  // nothing worth keeping
  lru_.push_front(std::move(seq));
  evict();
}

std::size_t SequencePool::bytes() const {
  std::size_t b = 0;
  for (const auto& s : lru_) b += s->kv->bytes();
  return b;
}

void SequencePool::evict() {
  while (!lru_.empty() && (lru_.size() > max_sequences_ || bytes() > max_bytes_)) lru_.pop_back();
}

}  // namespace rapide::inference::engine
