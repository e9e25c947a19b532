// Byte-level BPE encoding (tokenizer.ggml.model = gpt2).
//
// Where the time goes: for source code most of it is the pre-tokenizer and the per-word merges.
// Words repeat a lot in code, so each encode() call keeps a cache from word bytes to ids; merges
// run on integer symbol ids through an open-addressing pair table, never on strings. Short words
// use a linear scan for the best pair (cheaper than a heap below ~64 symbols); long ones (runs of
// spaces, minified lines) use a heap. Both apply the lowest-rank pair first, leftmost on ties:
// the order llama.cpp's priority queue gives.
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

#include <queue>

namespace rapide::inference {

namespace tok {

void MergeTable::reserve(std::size_t n_merges) {
  std::size_t cap = 16;
  while (cap < n_merges * 2) cap <<= 1;
  slots_.assign(cap, Slot{});
  mask_ = cap - 1;
}

void MergeTable::insert(std::int32_t left, std::int32_t right, std::int32_t rank, std::int32_t merged) {
  const std::uint64_t key = pack(left, right);
  std::size_t i = hash(key) & mask_;
  while (slots_[i].key != EMPTY) {
    if (slots_[i].key == key) return;
    i = (i + 1) & mask_;
  }
  slots_[i] = Slot{key, rank, merged};
}

}  // namespace tok

namespace {

struct Symbol {
  std::int32_t id;     // symbol id (vocab id, extra id >= n_vocab, or -1)
  std::uint32_t start;  // byte offset in the word
  std::uint32_t len;    // bytes; 0 once merged into the left neighbour
  std::int32_t prev;
  std::int32_t next;
};

constexpr std::size_t SCAN_LIMIT = 64;

}  // namespace

void Tokenizer::Impl::bpe_word(std::string_view raw, std::vector<std::int32_t>& out) const {
  if (raw.empty()) return;
  if (ignore_merges) {
    const std::int32_t id = raw_to_id.find(raw);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }
  const std::int32_t nv = n_vocab();
  // Emits one final symbol: its token, or llama.cpp's fallback (each byte of the byte-level text
  // as a one-character token, when there is one).
  auto emit = [&](std::int32_t id, std::string_view bytes) {
    if (id >= 0 && id < nv) {
      out.push_back(id);
      return;
    }
    std::string encoded;
    tok::byte_encode(bytes, encoded);
    for (char c : encoded) {
      const std::int32_t t = find(std::string_view(&c, 1));
      if (t >= 0) out.push_back(t);
    }
  };

  const std::size_t n = raw.size();
  if (n == 1) {
    emit(byte_symbol[static_cast<unsigned char>(raw[0])], raw);
    return;
  }
  std::vector<Symbol> sym(n);
  for (std::size_t i = 0; i < n; ++i) {
    sym[i] = Symbol{byte_symbol[static_cast<unsigned char>(raw[i])], static_cast<std::uint32_t>(i), 1,
                    static_cast<std::int32_t>(i) - 1, i + 1 < n ? static_cast<std::int32_t>(i + 1) : -1};
  }

  if (n <= SCAN_LIMIT) {
    // rank[i]: rank of the pair (i, next(i)), or -1.
    std::int32_t rank[SCAN_LIMIT];
    std::int32_t merged[SCAN_LIMIT];
    auto update = [&](std::int32_t i) {
      if (i < 0) return;
      const std::int32_t j = sym[i].next;
      std::int32_t r = -1, m = -1;
      if (j >= 0 && merges.find(sym[i].id, sym[j].id, r, m)) {
        rank[i] = r;
        merged[i] = m;
      } else {
        rank[i] = -1;
      }
    };
    for (std::size_t i = 0; i < n; ++i) update(static_cast<std::int32_t>(i));
    while (true) {
      std::int32_t best = -1;
      std::int32_t best_rank = 0;
      for (std::int32_t i = 0; i >= 0; i = sym[i].next) {
        if (rank[i] >= 0 && (best < 0 || rank[i] < best_rank)) {
          best = i;
          best_rank = rank[i];
        }
      }
      if (best < 0) break;
      Symbol& l = sym[best];
      Symbol& r = sym[l.next];
      l.id = merged[best];
      l.len += r.len;
      r.len = 0;
      l.next = r.next;
      if (r.next >= 0) sym[r.next].prev = best;
      update(l.prev);
      update(best);
    }
  } else {
    struct Cand {
      std::int32_t rank;
      std::int32_t left;
      std::int32_t right;
      std::int32_t merged;
      std::uint32_t size;
    };
    auto worse = [](const Cand& a, const Cand& b) {
      return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    };
    std::priority_queue<Cand, std::vector<Cand>, decltype(worse)> queue(worse);
    auto push = [&](std::int32_t i) {
      if (i < 0 || sym[i].next < 0) return;
      const std::int32_t j = sym[i].next;
      std::int32_t r = -1, m = -1;
      if (merges.find(sym[i].id, sym[j].id, r, m)) queue.push(Cand{r, i, j, m, sym[i].len + sym[j].len});
    };
    for (std::size_t i = 0; i + 1 < n; ++i) push(static_cast<std::int32_t>(i));
    while (!queue.empty()) {
      const Cand c = queue.top();
      queue.pop();
      Symbol& l = sym[c.left];
      Symbol& r = sym[c.right];
      if (l.len == 0 || r.len == 0 || l.len + r.len != c.size) continue;  // stale
      l.id = c.merged;
      l.len += r.len;
      r.len = 0;
      l.next = r.next;
      if (r.next >= 0) sym[r.next].prev = c.left;
      push(l.prev);
      push(c.left);
    }
  }

  for (std::int32_t i = 0; i >= 0; i = sym[i].next) emit(sym[i].id, raw.substr(sym[i].start, sym[i].len));
}

void Tokenizer::Impl::encode_bpe(std::string_view text, std::vector<std::int32_t>& out) const {
  // Decode as llama.cpp does (bad bytes -> U+FFFD) and work on the re-encoded text, so word bytes
  // are exactly what llama.cpp feeds its merges.
  std::vector<std::uint32_t> cps;
  tok::utf8_decode(text, cps);
  std::string clean;
  clean.reserve(text.size() + 16);
  std::vector<std::uint32_t> offsets(cps.size() + 1);
  for (std::size_t i = 0; i < cps.size(); ++i) {
    offsets[i] = static_cast<std::uint32_t>(clean.size());
    tok::utf8_append(cps[i], clean);
  }
  offsets[cps.size()] = static_cast<std::uint32_t>(clean.size());

  std::vector<std::uint32_t> lengths;
  pre->split(cps, lengths);

  // Word cache for this call: word bytes -> [begin, end) in cache_ids.
  tok::WordCache cache(lengths.size() / 8 + 16);
  std::vector<std::int32_t> cache_ids;
  std::size_t cp = 0;
  for (std::uint32_t len : lengths) {
    const std::string_view word(clean.data() + offsets[cp], offsets[cp + len] - offsets[cp]);
    cp += len;
    if (word.size() <= 1) {
      bpe_word(word, out);
      continue;
    }
    const std::uint64_t h = tok::hash_bytes(word);
    tok::WordCache::Slot* slot = cache.lookup(word, h);
    if (slot->used) {
      out.insert(out.end(), cache_ids.begin() + slot->begin, cache_ids.begin() + slot->end);
      continue;
    }
    const std::size_t before = out.size();
    bpe_word(word, out);
    const auto b = static_cast<std::uint32_t>(cache_ids.size());
    cache_ids.insert(cache_ids.end(), out.begin() + static_cast<std::ptrdiff_t>(before), out.end());
    cache.put(slot, word, h, b, static_cast<std::uint32_t>(cache_ids.size()));
  }
}

}  // namespace rapide::inference
