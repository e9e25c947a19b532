// Open-addressing hash tables keyed by byte strings, for the tokenizer's hot lookups (vocabulary
// text -> id at load and during SPM merges; word -> ids in the BPE word cache). Node-based
// std::unordered_map spent most of the load time chasing pointers; these keep slots contiguous.
// Private to inference/tokenizer. Not thread-safe for writes; const lookups may run concurrently.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace rapide::inference::tok {

// A fast non-cryptographic 64-bit hash of a byte string (multiply-xorshift over 8-byte words).
inline std::uint64_t hash_bytes(std::string_view s) {
  constexpr std::uint64_t k1 = 0x9E3779B97F4A7C15ull;
  constexpr std::uint64_t k2 = 0xC2B2AE3D27D4EB4Full;
  std::uint64_t h = k2 ^ (s.size() * k1);
  const char* p = s.data();
  std::size_t n = s.size();
  while (n >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ (w * k1)) * k2;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    std::uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = (h ^ (w * k1)) * k2;
    h ^= h >> 29;
  }
  h ^= h >> 32;
  h *= k1;
  h ^= h >> 29;
  return h;
}

// Maps strings to int32 ids where each id's string is known to the caller: the table stores ids
// only and asks `key_of(id)` for the string when it needs to compare.
template <class KeyOf>
class IdIndex {
 public:
  explicit IdIndex(KeyOf key_of) : key_of_(key_of) {}

  void reserve(std::size_t n) {
    std::size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    slots_.assign(cap, Slot{0, -1});
    mask_ = cap - 1;
    size_ = 0;
  }

  // Sets key(id) -> id, replacing an earlier id with the same string (the last one wins).
  void insert(std::int32_t id) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    const std::string_view key = key_of_(id);
    const std::uint64_t h = hash_bytes(key);
    std::size_t i = h & mask_;
    while (slots_[i].id >= 0) {
      if (slots_[i].hash == static_cast<std::uint32_t>(h >> 32) && key_of_(slots_[i].id) == key) {
        slots_[i].id = id;
        return;
      }
      i = (i + 1) & mask_;
    }
    slots_[i] = Slot{static_cast<std::uint32_t>(h >> 32), id};
    ++size_;
  }

  std::int32_t find(std::string_view key) const {
    if (slots_.empty()) return -1;
    const std::uint64_t h = hash_bytes(key);
    const auto tag = static_cast<std::uint32_t>(h >> 32);
    std::size_t i = h & mask_;
    while (true) {
      const Slot& s = slots_[i];
      if (s.id < 0) return -1;
      if (s.hash == tag && key_of_(s.id) == key) return s.id;
      i = (i + 1) & mask_;
    }
  }

 private:
  struct Slot {
    std::uint32_t hash;
    std::int32_t id;
  };
  void grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    reserve(old.empty() ? 8 : old.size());
    for (const Slot& s : old)
      if (s.id >= 0) insert(s.id);
  }
  KeyOf key_of_;
  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

// string_view -> (begin, end) for the per-call word cache (the views point into the caller's text).
class WordCache {
 public:
  explicit WordCache(std::size_t expected) {
    std::size_t cap = 64;
    while (cap < expected * 2) cap <<= 1;
    slots_.resize(cap);
    mask_ = cap - 1;
  }
  // Returns the slot for `key`: found (key set) or empty (to fill with put()).
  struct Slot {
    std::string_view key;
    std::uint64_t hash = 0;
    std::uint32_t begin = 0;
    std::uint32_t end = 0;
    bool used = false;
  };
  Slot* lookup(std::string_view key, std::uint64_t h) {
    std::size_t i = h & mask_;
    while (slots_[i].used) {
      if (slots_[i].hash == h && slots_[i].key == key) return &slots_[i];
      i = (i + 1) & mask_;
    }
    return &slots_[i];
  }
  // Fills an empty slot returned by lookup(); may grow (the slot pointer is then stale).
  void put(Slot* s, std::string_view key, std::uint64_t h, std::uint32_t begin, std::uint32_t end) {
    *s = Slot{key, h, begin, end, true};
    if (++size_ * 2 > slots_.size()) grow();
  }

 private:
  void grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.resize(old.size() * 2);
    mask_ = slots_.size() - 1;
    for (const Slot& s : old) {
      if (!s.used) continue;
      std::size_t i = s.hash & mask_;
      while (slots_[i].used) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }
  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace rapide::inference::tok
