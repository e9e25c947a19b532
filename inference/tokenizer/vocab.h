// Internal state of a Tokenizer (private to inference/tokenizer): the vocabulary, the special
// tokens, and the data of the BPE or SPM algorithm. Built once by Tokenizer::from_gguf and never
// changed afterwards, so every member function here is const and thread-safe.
#pragma once

#include "rapide/inference/tokenizer.h"
#include "tokenizer/flat_map.h"
#include "tokenizer/pre_tokenizer.h"

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rapide::inference {

namespace tok {

// Token attributes as bit flags (llama.cpp's llama_token_attr): a token can gain CONTROL when it
// is recognised as an end-of-generation or FIM token by its text.
enum Attr : std::uint32_t {
  ATTR_UNDEFINED = 0,
  ATTR_UNKNOWN = 1u << 0,
  ATTR_UNUSED = 1u << 1,
  ATTR_NORMAL = 1u << 2,
  ATTR_CONTROL = 1u << 3,
  ATTR_USER_DEFINED = 1u << 4,
  ATTR_BYTE = 1u << 5,
  ATTR_LSTRIP = 1u << 7,
  ATTR_RSTRIP = 1u << 8,
};

// (left id, right id) -> (rank, merged id), open addressing. Ids are "symbol ids": vocabulary ids,
// or ids >= n_vocab for strings that occur in merges but are not vocabulary entries.
class MergeTable {
 public:
  void reserve(std::size_t n_merges);
  // Keeps the first rank given for a pair (like llama.cpp's map emplace).
  void insert(std::int32_t left, std::int32_t right, std::int32_t rank, std::int32_t merged);
  // False when the pair does not merge.
  bool find(std::int32_t left, std::int32_t right, std::int32_t& rank, std::int32_t& merged) const {
    if (slots_.empty() || left < 0 || right < 0) return false;
    const std::uint64_t key = pack(left, right);
    std::size_t i = hash(key) & mask_;
    while (true) {
      const Slot& s = slots_[i];
      if (s.key == key) {
        rank = s.rank;
        merged = s.merged;
        return true;
      }
      if (s.key == EMPTY) return false;
      i = (i + 1) & mask_;
    }
  }

 private:
  static constexpr std::uint64_t EMPTY = ~0ull;
  struct Slot {
    std::uint64_t key = EMPTY;
    std::int32_t rank = 0;
    std::int32_t merged = 0;
  };
  static std::uint64_t pack(std::int32_t l, std::int32_t r) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(l)) << 32) | static_cast<std::uint32_t>(r);
  }
  static std::size_t hash(std::uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return static_cast<std::size_t>(k);
  }
  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
};

// The string of id `i` in a vector of strings (for IdIndex).
struct TextKey {
  const std::vector<std::string>* texts;
  std::string_view operator()(std::int32_t i) const { return (*texts)[static_cast<std::size_t>(i)]; }
};

}  // namespace tok

struct Tokenizer::Impl {
  TokenizerKind kind = TokenizerKind::BPE;
  std::string model_name;
  std::string pre_name;

  std::vector<std::string> texts;
  std::vector<float> scores;
  std::vector<TokenType> file_types;
  std::vector<std::uint32_t> attrs;
  std::vector<std::string> pieces;                      // token_to_piece, precomputed
  tok::IdIndex<tok::TextKey> text_to_id{tok::TextKey{&texts}};  // text -> id (last duplicate wins)

  std::int32_t bos = -1, eos = -1, eot = -1, eom = -1, pad = -1, unk = -1, sep = -1, mask = -1;
  std::int32_t fim_pre = -1, fim_suf = -1, fim_mid = -1, fim_pad = -1, fim_rep = -1, fim_sep = -1;
  bool add_bos = false;
  bool add_eos = false;
  bool add_space_prefix = false;
  std::vector<std::int32_t> special_cache;  // CONTROL/USER_DEFINED/UNKNOWN ids, longest text first
  std::vector<bool> eog;

  // BPE
  std::shared_ptr<const tok::PreTokenizer> pre;
  bool ignore_merges = false;
  tok::MergeTable merges;
  std::vector<std::string> extra_symbols;  // texts of symbol ids >= n_vocab (byte-level encoded)
  std::array<std::int32_t, 256> byte_symbol{};  // symbol id of each byte's mapped character, or -1
  std::vector<std::string> raw_texts;  // byte-level decoded texts (built once, then viewed)
  tok::IdIndex<tok::TextKey> raw_to_id{tok::TextKey{&raw_texts}};  // raw bytes -> id

  // WPM
  bool add_sep = false;
  bool lowercase = true;
  bool strip_accents = true;
  std::size_t max_token_len = 0;

  // SPM
  std::array<std::int32_t, 256> byte_token{};  // <0xNN> token (or the single-byte token), or -1

  std::int32_t n_vocab() const { return static_cast<std::int32_t>(texts.size()); }
  std::int32_t find(std::string_view text) const { return text_to_id.find(text); }

  // Tokenizes text that holds no special tokens (one fragment), appending ids.
  void encode_bpe(std::string_view text, std::vector<std::int32_t>& out) const;
  void encode_spm(std::string_view text, std::vector<std::int32_t>& out) const;
  void encode_wpm(std::string_view text, std::vector<std::int32_t>& out) const;
  // One pre-tokenized word of raw (sanitised UTF-8) bytes.
  void bpe_word(std::string_view raw, std::vector<std::int32_t>& out) const;
};

}  // namespace rapide::inference
