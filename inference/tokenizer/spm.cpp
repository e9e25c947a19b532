// SentencePiece-style BPE over scored pieces (tokenizer.ggml.model = llama), as llama.cpp runs it:
// start from UTF-8 characters, repeatedly merge the adjacent pair whose concatenation is the
// highest-scored vocabulary entry (leftmost on ties), then map each final piece to its token or,
// failing that, to byte tokens <0xNN>.
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

#include <queue>

namespace rapide::inference {

namespace {

struct Symbol {
  std::uint32_t start;
  std::uint32_t len;
  std::int32_t prev;
  std::int32_t next;
};

struct Bigram {
  float score;
  std::int32_t left;
  std::int32_t right;
  std::uint32_t size;
};

struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

}  // namespace

void Tokenizer::Impl::encode_spm(std::string_view text, std::vector<std::int32_t>& out) const {
  if (text.empty()) return;
  std::vector<Symbol> sym;
  sym.reserve(text.size());
  for (std::size_t off = 0; off < text.size();) {
    const std::size_t len = std::min(tok::utf8_len(static_cast<unsigned char>(text[off])), text.size() - off);
    const auto idx = static_cast<std::int32_t>(sym.size());
    sym.push_back(Symbol{static_cast<std::uint32_t>(off), static_cast<std::uint32_t>(len), idx - 1,
                         off + len == text.size() ? -1 : idx + 1});
    off += len;
  }

  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  auto try_add = [&](std::int32_t left, std::int32_t right) {
    if (left < 0 || right < 0) return;
    const std::uint32_t size = sym[left].len + sym[right].len;
    const std::int32_t id = find(text.substr(sym[left].start, size));
    if (id < 0) return;
    queue.push(Bigram{scores[id], left, right, size});
  };
  for (std::int32_t i = 1; i < static_cast<std::int32_t>(sym.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram b = queue.top();
    queue.pop();
    Symbol& l = sym[b.left];
    Symbol& r = sym[b.right];
    if (l.len == 0 || r.len == 0 || l.len + r.len != b.size) continue;
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }

  for (std::int32_t i = 0; i >= 0; i = sym[i].next) {
    const std::string_view piece = text.substr(sym[i].start, sym[i].len);
    const std::int32_t id = find(piece);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    // Every merged piece is a vocabulary entry, so this is a single character: byte fallback.
    for (char c : piece) {
      const std::int32_t t = byte_token[static_cast<unsigned char>(c)];
      if (t >= 0) {
        out.push_back(t);
      } else if (unk >= 0) {
        out.push_back(unk);
      }
    }
  }
}

}  // namespace rapide::inference
