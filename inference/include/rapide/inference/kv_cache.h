// KvCache: the keys and values of ONE sequence, for every layer, at positions 0..size()-1.
// Created by Model::new_kv_cache() (storage lives where the model's backend computes: host
// memory for the CPU backend). Owned by the caller (the engine keeps one per cached sequence).
//
// Model::forward() appends the batch's tokens at positions size()..size()+n-1 and advances
// size(). truncate(n) rolls back to the first n tokens (prefix reuse, rejected speculative
// drafts); the next forward overwrites from position n. Nothing is reallocated after creation:
// a forward that would exceed capacity() fails with an error and leaves the cache unchanged.
//
// Thread-safety: none; a cache is used by one forward at a time. Keys and values are stored as
// F16 (like llama.cpp's default cache type), so bytes() = 2 * 2 * n_layer * capacity *
// n_head_kv * head_dim for the CPU backend.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rapide::inference {

class KvCache {
 public:
  virtual ~KvCache() = default;
  virtual std::int32_t size() const = 0;      // tokens stored (positions 0..size-1)
  virtual std::int32_t capacity() const = 0;  // tokens it can hold
  // Roll back to the first n_tokens (0 <= n_tokens; values above size() are clamped to size()).
  virtual void truncate(std::int32_t n_tokens) = 0;
  virtual std::size_t bytes() const = 0;      // memory held
};

}  // namespace rapide::inference
