// Cached sequences and prefix reuse.
//
// A CachedSequence is a KV cache plus the tokens it holds (kv->size() == tokens.size()). The
// pool keeps sequences that finished generating, so that the next prompt that starts the same
// way (the same file sent again on the next keystroke, with a few characters changed near the
// end) reuses their keys and values and prefills only the tail.
//
// Contiguous, not paged: each sequence owns one contiguous KV buffer per layer (the model's
// KvCache), sized when the sequence is created (rounded up to a 256-token bucket, at most the
// engine's context). Why not pages: (1) on the CPU the attention inner loop is a linear scan of
// one head's keys, which a contiguous buffer makes a plain strided walk with no page-table
// indirection; (2) the sharing that paging buys (many live requests with one system prompt) is
// rare in an editor, which has one or two live requests and a long history of near-identical
// prompts over time, and that case is served by keeping whole sequences and truncating them
// (rollback is O(1): truncate() just moves the end); (3) a speculative rollback never frees
// memory anyway. The price is memory held at the bucket size; the pool's byte limit bounds it.
//
// acquire(): among the cached sequences with enough capacity, the one with the longest common
// token prefix with the prompt (ties: most recently used) is taken out of the pool and truncated
// to that prefix, but never to the whole prompt: at least the last prompt token is fed again so
// its logits exist. No match: a fresh cache. release(): back into the pool as most recently used,
// then least recently used sequences are evicted while the pool is over its byte or count limit.
//
// Thread-safety: none; owned by the engine's worker thread.
#pragma once

#include "rapide/inference/kv_cache.h"
#include "rapide/inference/result.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <span>
#include <vector>

namespace rapide::inference::engine {

struct CachedSequence {
  std::unique_ptr<KvCache> kv;
  std::vector<std::int32_t> tokens;  // what kv holds, position by position

  // Rolls back to the first n tokens.
  void truncate(std::int32_t n);
};

// Length of the longest common prefix.
std::size_t common_prefix(std::span<const std::int32_t> a, std::span<const std::int32_t> b);

class SequencePool {
 public:
  // new_cache(capacity) makes an empty KV cache (Model::new_kv_cache).
  using CacheFactory = std::function<Result<std::unique_ptr<KvCache>>(std::int32_t capacity)>;

  SequencePool(CacheFactory new_cache, std::size_t max_bytes, std::size_t max_sequences, std::int32_t max_capacity);

  struct Acquired {
    std::unique_ptr<CachedSequence> seq;
    std::int32_t reused_tokens = 0;  // prompt tokens already in seq's KV
  };
  // A sequence for `prompt` able to hold `needed_capacity` tokens (<= max_capacity).
  Result<Acquired> acquire(std::span<const std::int32_t> prompt, std::int32_t needed_capacity);
  // Gives a sequence back to be cached (its tokens must match its KV).
  void release(std::unique_ptr<CachedSequence> seq);

  std::size_t size() const { return lru_.size(); }
  std::size_t bytes() const;  // memory held by cached (not leased) sequences
  std::int32_t max_capacity() const { return max_capacity_; }
  void clear() { lru_.clear(); }
  // Capacity bucket for a need: rounded up to 256 tokens, at most max_capacity.
  std::int32_t bucket(std::int32_t needed) const;

 private:
  void evict();

  CacheFactory new_cache_;
  std::size_t max_bytes_;
  std::size_t max_sequences_;
  std::int32_t max_capacity_;
  std::list<std::unique_ptr<CachedSequence>> lru_;  // front: most recently used
};

}  // namespace rapide::inference::engine
