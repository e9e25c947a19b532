// Tokenizer loading from GGUF metadata, special-token handling and detokenization. The behaviour
// (defaults, which tokens count as EOT/FIM/EOG, how special-token texts split the input) follows
// llama.cpp's llama-vocab.cpp, read for the facts; the code is ours.
#include "rapide/inference/tokenizer.h"

#include "rapide/inference/gguf.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <utility>

namespace rapide::inference {

using tok::Attr;

namespace {

constexpr std::string_view K_MODEL = "tokenizer.ggml.model";
constexpr std::string_view K_PRE = "tokenizer.ggml.pre";
constexpr std::string_view K_TOKENS = "tokenizer.ggml.tokens";
constexpr std::string_view K_SCORES = "tokenizer.ggml.scores";
constexpr std::string_view K_TYPES = "tokenizer.ggml.token_type";
constexpr std::string_view K_MERGES = "tokenizer.ggml.merges";

std::uint32_t attr_of_type(std::int64_t type) {
  switch (type) {
    case 1: return tok::ATTR_NORMAL;
    case 2: return tok::ATTR_UNKNOWN;
    case 3: return tok::ATTR_CONTROL;
    case 4: return tok::ATTR_USER_DEFINED;
    case 5: return tok::ATTR_UNUSED;
    case 6: return tok::ATTR_BYTE;
    default: return tok::ATTR_UNDEFINED;
  }
}

Result<std::span<const gguf::Value>> string_array(const gguf::GgufFile& file, std::string_view key,
                                                  bool required) {
  const gguf::Value* v = file.find(key);
  if (!v) {
    if (required) return error(file.source_name(), ": tokenizer key '", std::string(key), "' is missing");
    return std::span<const gguf::Value>{};
  }
  if (v->type() != gguf::ValueType::ARRAY || v->array_type() != gguf::ValueType::STRING)
    return error(file.source_name(), ": '", std::string(key), "' should be an array of strings, got ",
                 std::string(gguf::value_type_name(v->type())),
                 v->type() == gguf::ValueType::ARRAY
                     ? " of " + std::string(gguf::value_type_name(v->array_type()))
                     : std::string());
  return v->array();
}

// Text lists of llama.cpp's by-text detection, in priority order (the first listed text present
// in the vocabulary wins; llama.cpp scans a hash map, so its pick among several is arbitrary).
const std::vector<std::string_view> k_eot_texts = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
    "[EOT]", "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", "<end_of_utterance>"};
const std::vector<std::string_view> k_eom_texts = {"<|eom_id|>"};
const std::vector<std::string_view> k_fim_pre_texts = {
    "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>",
    "<PRE>", "\xe2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>"};
const std::vector<std::string_view> k_fim_suf_texts = {
    "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81hole\xef\xbd\x9c>",
    "<SUF>", "\xe2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>"};
const std::vector<std::string_view> k_fim_mid_texts = {
    "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>",
    "<MID>", "\xe2\x96\x81<MID>", "<|code_middle|>", "<|middle|>"};
const std::vector<std::string_view> k_fim_pad_texts = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"};
const std::vector<std::string_view> k_fim_rep_texts = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>",
                                                       "<reponame>"};
const std::vector<std::string_view> k_fim_sep_texts = {"<|file_sep|>"};
const std::vector<std::string_view> k_eog_texts = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
    "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
    "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", "[e~["};

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// A piece of the input during special-token partitioning: raw text, or one token.
struct Fragment {
  std::int32_t token;  // -1 for raw text
  std::size_t offset;
  std::size_t length;
};

}  // namespace

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

Result<std::shared_ptr<const Tokenizer>> Tokenizer::from_gguf(const gguf::GgufFile& file) {
  auto impl = std::make_unique<Impl>();
  Impl& v = *impl;
  const std::string& src = file.source_name();

  const auto model = file.get_string(K_MODEL);
  if (!model) return error(src, ": no tokenizer in this file ('", std::string(K_MODEL), "' is missing or not a string)");
  v.model_name = std::string(*model);
  if (v.model_name == "gpt2") {
    v.kind = TokenizerKind::BPE;
  } else if (v.model_name == "llama") {
    v.kind = TokenizerKind::SPM;
  } else if (v.model_name == "bert") {
    v.kind = TokenizerKind::WPM;
  } else {
    return error(src, ": tokenizer model '", v.model_name,
                 "' is not supported (supported: 'gpt2' byte-level BPE, 'llama' SentencePiece, 'bert' WordPiece)");
  }

  // ---- vocabulary ----
  auto tokens = string_array(file, K_TOKENS, true);
  if (!tokens) return tokens.error();
  const std::size_t n = tokens->size();
  if (n == 0) return error(src, ": '", std::string(K_TOKENS), "' is empty");
  if (n > 0x7FFFFFFF) return error(src, ": vocabulary of ", n, " tokens is too large");
  v.texts.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::string_view t = *(*tokens)[i].as_string();
    v.texts[i] = t.empty() ? "[EMPTY_" + std::to_string(i) + "]" : std::string(t);
  }
  v.scores.assign(n, 0.0f);
  if (const gguf::Value* s = file.find(K_SCORES)) {
    if (s->type() != gguf::ValueType::ARRAY ||
        (s->array_type() != gguf::ValueType::FLOAT32 && s->array_type() != gguf::ValueType::INT32))
      return error(src, ": '", std::string(K_SCORES), "' should be an array of float32 (or int32)");
    if (s->array().size() < n)
      return error(src, ": '", std::string(K_SCORES), "' has ", s->array().size(), " entries, expected ", n);
    for (std::size_t i = 0; i < n; ++i) v.scores[i] = static_cast<float>(s->array()[i].as_float().value_or(0.0));
  }
  v.file_types.assign(n, TokenType::NORMAL);
  v.attrs.assign(n, tok::ATTR_NORMAL);
  if (const gguf::Value* t = file.find(K_TYPES)) {
    if (t->type() != gguf::ValueType::ARRAY || t->array_type() != gguf::ValueType::INT32)
      return error(src, ": '", std::string(K_TYPES), "' should be an array of int32");
    if (t->array().size() < n)
      return error(src, ": '", std::string(K_TYPES), "' has ", t->array().size(), " entries, expected ", n);
    for (std::size_t i = 0; i < n; ++i) {
      const std::int64_t ty = t->array()[i].as_int().value_or(0);
      v.file_types[i] = (ty >= 0 && ty <= 6) ? static_cast<TokenType>(ty) : TokenType::UNDEFINED;
      v.attrs[i] = attr_of_type(ty);
    }
  }
  v.text_to_id.reserve(n);
  for (std::size_t i = 0; i < n; ++i) v.text_to_id.insert(static_cast<std::int32_t>(i));  // last wins

  // ---- algorithm ----
  if (v.kind == TokenizerKind::BPE) {
    const auto pre = file.get_string(K_PRE);
    if (!pre || pre->empty()) {
      std::fprintf(stderr,
                   "rapide: %s: tokenizer.ggml.pre is missing; using the 'default' pre-tokenizer (as llama.cpp "
                   "does). Tokenization may differ from the model's training: consider regenerating the GGUF.\n",
                   src.c_str());
      v.pre_name = "default";
    } else {
      v.pre_name = std::string(*pre);
    }
    auto p = tok::PreTokenizer::create(v.pre_name);
    if (!p) return error(src, ": ", p.message());
    v.pre = *p;
    v.ignore_merges = v.pre->options().ignore_merges;
    v.add_bos = v.pre->options().add_bos;
    v.add_space_prefix = false;
    v.bos = 11;
    v.eos = 11;

    auto merges = string_array(file, K_MERGES, true);
    if (!merges) return merges.error();
    // Symbol ids: vocabulary texts, then merge-side strings that are not vocabulary entries.
    // Extra symbols are indexed by their position in extra_symbols (id - n).
    tok::IdIndex<tok::TextKey> extra{tok::TextKey{&v.extra_symbols}};
    extra.reserve(64);
    auto intern = [&](std::string_view s) -> std::int32_t {
      const std::int32_t id = v.find(s);
      if (id >= 0) return id;
      const std::int32_t e = extra.find(s);
      if (e >= 0) return static_cast<std::int32_t>(n) + e;
      v.extra_symbols.emplace_back(s);
      extra.insert(static_cast<std::int32_t>(v.extra_symbols.size() - 1));
      return static_cast<std::int32_t>(n + v.extra_symbols.size() - 1);
    };
    v.merges.reserve(merges->size());
    std::string joined;
    for (std::size_t i = 0; i < merges->size(); ++i) {
      const std::string_view m = *(*merges)[i].as_string();
      const std::size_t sp = m.size() > 1 ? m.find(' ', 1) : std::string_view::npos;
      if (sp == std::string_view::npos) continue;  // llama.cpp files such a line under ("", ""): never matches
      const std::string_view a = m.substr(0, sp);
      const std::string_view b = m.substr(sp + 1);
      if (b.empty()) continue;
      joined.assign(a);
      joined += b;
      const std::int32_t ia = intern(a);
      const std::int32_t ib = intern(b);
      const std::int32_t im = intern(joined);
      v.merges.insert(ia, ib, static_cast<std::int32_t>(i), im);
    }
    const tok::ByteMap& bm = tok::byte_map();
    for (int b = 0; b < 256; ++b) {
      const std::string& ch = bm.byte_to_utf8[b];
      std::int32_t id = v.find(ch);
      if (id < 0) {
        const std::int32_t e = extra.find(ch);
        id = e < 0 ? -1 : static_cast<std::int32_t>(n) + e;
      }
      v.byte_symbol[b] = id;
    }
    // Raw-byte view of every byte-level decodable entry (for ignore_merges and lookups by text).
    v.raw_texts.resize(n);
    std::vector<bool> has_raw(n, false);
    for (std::size_t i = 0; i < n; ++i) has_raw[i] = tok::byte_decode(v.texts[i], v.raw_texts[i]);
    v.raw_to_id.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
      if (has_raw[i]) v.raw_to_id.insert(static_cast<std::int32_t>(i));
  } else if (v.kind == TokenizerKind::WPM) {
    v.pre_name = "default";
    v.add_bos = true;
    v.add_sep = true;
    v.bos = 101;
    v.unk = 100;
    v.sep = 102;
    v.pad = 0;
    v.mask = 103;
    for (const std::string& t : v.texts) v.max_token_len = std::max(v.max_token_len, t.size());
    if (auto b = file.get_bool("tokenizer.ggml.normalizer.lowercase")) v.lowercase = *b;
    v.strip_accents = v.lowercase;
    if (auto b = file.get_bool("tokenizer.ggml.normalizer.strip_accents")) v.strip_accents = *b;
  } else {
    v.pre_name = "default";
    v.add_space_prefix = true;
    v.add_bos = true;
    v.bos = 1;
    v.eos = 2;
    v.unk = 0;
    static const char* hex = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) {
      const char name[7] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>', 0};
      std::int32_t id = v.find(name);
      if (id < 0) {
        const char one = static_cast<char>(b);
        id = v.find(std::string_view(&one, 1));
      }
      v.byte_token[b] = id;
    }
  }
  if (auto b = file.get_bool("tokenizer.ggml.add_space_prefix")) v.add_space_prefix = *b;

  // ---- special tokens ----
  struct IdKey {
    std::string_view key;
    std::int32_t* id;
  };
  const IdKey id_keys[] = {
      {"tokenizer.ggml.bos_token_id", &v.bos},         {"tokenizer.ggml.eos_token_id", &v.eos},
      {"tokenizer.ggml.eot_token_id", &v.eot},         {"tokenizer.ggml.eom_token_id", &v.eom},
      {"tokenizer.ggml.unknown_token_id", &v.unk},     {"tokenizer.ggml.seperator_token_id", &v.sep},
      {"tokenizer.ggml.padding_token_id", &v.pad},     {"tokenizer.ggml.mask_token_id", &v.mask},
      {"tokenizer.ggml.fim_pre_token_id", &v.fim_pre}, {"tokenizer.ggml.fim_suf_token_id", &v.fim_suf},
      {"tokenizer.ggml.fim_mid_token_id", &v.fim_mid}, {"tokenizer.ggml.fim_pad_token_id", &v.fim_pad},
      {"tokenizer.ggml.fim_rep_token_id", &v.fim_rep}, {"tokenizer.ggml.fim_sep_token_id", &v.fim_sep},
      {"tokenizer.ggml.prefix_token_id", &v.fim_pre},  {"tokenizer.ggml.suffix_token_id", &v.fim_suf},
      {"tokenizer.ggml.middle_token_id", &v.fim_mid},
  };
  for (const IdKey& k : id_keys) {
    if (*k.id >= static_cast<std::int32_t>(n)) *k.id = -1;  // a default out of range is disabled
    const auto val = file.get_uint(k.key);
    if (!val) continue;
    if (*val == 0xFFFFFFFFull) {  // the usual "none" marker (-1 stored as uint32)
      *k.id = -1;
      continue;
    }
    if (*val >= n) {
      std::fprintf(stderr, "rapide: %s: %.*s = %llu is outside the vocabulary (%zu tokens); ignored\n", src.c_str(),
                   static_cast<int>(k.key.size()), k.key.data(), static_cast<unsigned long long>(*val), n);
      continue;
    }
    *k.id = static_cast<std::int32_t>(*val);
  }
  if (auto b = file.get_bool("tokenizer.ggml.add_bos_token")) v.add_bos = *b;
  if (auto b = file.get_bool("tokenizer.ggml.add_eos_token")) v.add_eos = *b;
  if (auto b = file.get_bool("tokenizer.ggml.add_sep_token")) v.add_sep = *b;

  // By-text detection; a recognised token that is not CONTROL becomes CONTROL (llama.cpp does the
  // same and warns that the model file is probably wrong).
  auto by_text = [&](std::int32_t& id, const std::vector<std::string_view>& texts) {
    if (id >= 0) return;
    for (std::string_view t : texts) {
      const std::int32_t found = v.find(t);
      if (found >= 0) {
        id = found;
        v.attrs[found] |= tok::ATTR_CONTROL;
        return;
      }
    }
  };
  by_text(v.eot, k_eot_texts);
  by_text(v.eom, k_eom_texts);
  by_text(v.fim_pre, k_fim_pre_texts);
  by_text(v.fim_suf, k_fim_suf_texts);
  by_text(v.fim_mid, k_fim_mid_texts);
  by_text(v.fim_pad, k_fim_pad_texts);
  by_text(v.fim_rep, k_fim_rep_texts);
  by_text(v.fim_sep, k_fim_sep_texts);

  v.eog.assign(n, false);
  for (std::int32_t id : {v.fim_pad, v.fim_rep, v.fim_sep})
    if (id >= 0) v.eog[id] = true;
  for (std::string_view t : k_eog_texts) {
    const std::int32_t id = v.find(t);
    if (id < 0) continue;
    v.eog[id] = true;
    v.attrs[id] |= tok::ATTR_CONTROL;
  }
  for (std::string_view t : {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"}) {
    const std::int32_t id = v.find(t);
    if (id >= 0) v.attrs[id] = tok::ATTR_USER_DEFINED;
  }
  for (std::int32_t id : {v.eos, v.eot, v.eom})
    if (id >= 0) v.eog[id] = true;

  for (std::size_t i = 0; i < n; ++i)
    if (v.attrs[i] & (tok::ATTR_CONTROL | tok::ATTR_USER_DEFINED | tok::ATTR_UNKNOWN))
      v.special_cache.push_back(static_cast<std::int32_t>(i));
  std::stable_sort(v.special_cache.begin(), v.special_cache.end(), [&](std::int32_t a, std::int32_t b) {
    return v.texts[a].size() > v.texts[b].size();
  });

  // Phi-3: special tokens swallow the white space after them (llama.cpp's per-model attributes).
  if (auto name = file.get_string("general.name")) {
    std::string lower(*name);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.find("phi-3") != std::string::npos || lower.find("phi3") != std::string::npos) {
      for (std::int32_t id : v.special_cache) v.attrs[id] |= tok::ATTR_RSTRIP;
      if (std::int32_t id = v.find("</s>"); id >= 0) v.attrs[id] |= tok::ATTR_RSTRIP;
      for (std::string_view t : {"<unk>", "<s>", "<|endoftext|>"})
        if (std::int32_t id = v.find(t); id >= 0) v.attrs[id] &= ~static_cast<std::uint32_t>(tok::ATTR_RSTRIP);
    }
  }

  // ---- pieces (token_to_piece) ----
  v.pieces.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t a = v.attrs[i];
    const std::string& t = v.texts[i];
    std::string& p = v.pieces[i];
    if (a & (tok::ATTR_UNKNOWN | tok::ATTR_CONTROL | tok::ATTR_USER_DEFINED)) {
      p = t;
    } else if (a & tok::ATTR_NORMAL) {
      if (v.kind != TokenizerKind::BPE) {
        for (std::size_t k = 0; k < t.size(); ++k) {
          if (t.compare(k, 3, "\xe2\x96\x81") == 0) {
            p += ' ';
            k += 2;
          } else {
            p += t[k];
          }
        }
      } else if (!tok::byte_decode(t, p)) {
        p = t;  // not byte-level text: give its UTF-8 as is
      }
    } else if (a & tok::ATTR_BYTE) {
      if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>') {
        p.assign(1, static_cast<char>(std::stoi(t.substr(3, 2), nullptr, 16)));
      } else if (v.kind == TokenizerKind::BPE) {
        if (!tok::byte_decode(t, p)) p = t;
      } else {
        p = t;
      }
    }
    // UNUSED and UNDEFINED tokens have no text.
  }

  return std::shared_ptr<const Tokenizer>(new Tokenizer(std::move(impl)));
}

std::vector<std::int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  const Impl& v = *impl_;
  std::vector<Fragment> frags;
  if (!text.empty()) frags.push_back(Fragment{-1, 0, text.size()});

  // Split raw fragments on special-token texts, longest text first (llama.cpp's partition).
  std::vector<Fragment> next;
  for (std::int32_t id : v.special_cache) {
    const std::uint32_t a = v.attrs[id];
    if (!parse_special && (a & (tok::ATTR_CONTROL | tok::ATTR_UNKNOWN))) continue;
    const std::string& st = v.texts[id];
    if (text.find(st) == std::string_view::npos) continue;
    next.clear();
    for (const Fragment& f : frags) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      std::size_t off = f.offset;
      std::size_t len = f.length;
      while (true) {
        const std::size_t match = text.substr(0, off + len).find(st, off);
        if (match == std::string_view::npos) {
          if (len > 0) next.push_back(Fragment{-1, off, len});
          break;
        }
        if (match > off) {
          std::size_t left_len = match - off;
          if (a & tok::ATTR_LSTRIP)
            while (left_len > 0 && is_space(text[off + left_len - 1])) --left_len;
          if (left_len > 0) next.push_back(Fragment{-1, off, left_len});
        }
        next.push_back(Fragment{id, 0, 0});
        std::size_t right_off = match + st.size();
        std::size_t right_len = off + len - right_off;
        if (a & tok::ATTR_RSTRIP) {
          while (right_len > 0 && is_space(text[right_off])) {
            ++right_off;
            --right_len;
          }
        }
        off = right_off;
        len = right_len;
        if (len == 0) break;
      }
    }
    frags.swap(next);
  }

  std::vector<std::int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (v.kind == TokenizerKind::SPM) {
    if (add_special && v.add_bos && v.bos >= 0) out.push_back(v.bos);
    bool prev_special = true;  // the dummy prefix goes before the first text and after specials
    std::string buf;
    for (const Fragment& f : frags) {
      if (f.token >= 0) {
        out.push_back(f.token);
        prev_special = true;
        continue;
      }
      buf.clear();
      if (v.add_space_prefix && prev_special) buf += "\xe2\x96\x81";
      for (char c : text.substr(f.offset, f.length)) {
        if (c == ' ')
          buf += "\xe2\x96\x81";
        else
          buf += c;
      }
      v.encode_spm(buf, out);
      prev_special = false;
    }
  } else if (v.kind == TokenizerKind::WPM) {
    if (add_special && v.bos >= 0) out.push_back(v.bos);
    for (const Fragment& f : frags) {
      if (f.token >= 0)
        out.push_back(f.token);
      else
        v.encode_wpm(text.substr(f.offset, f.length), out);
    }
    if (add_special && v.add_sep && v.sep >= 0) out.push_back(v.sep);
    return out;
  } else {
    if (add_special && v.add_bos && v.bos >= 0) out.push_back(v.bos);
    for (const Fragment& f : frags) {
      if (f.token >= 0)
        out.push_back(f.token);
      else
        v.encode_bpe(text.substr(f.offset, f.length), out);
    }
  }
  if (add_special && v.add_eos && v.eos >= 0) out.push_back(v.eos);
  return out;
}

std::string Tokenizer::token_to_piece(std::int32_t id) const {
  if (id < 0 || id >= impl_->n_vocab()) return {};
  return impl_->pieces[id];
}

std::string Tokenizer::decode(std::span<const std::int32_t> ids, DecodeOptions options) const {
  std::string s;
  bool first = true;
  for (std::int32_t id : ids) {
    if (id < 0 || id >= impl_->n_vocab()) continue;
    if (options.skip_control && (impl_->attrs[id] & (tok::ATTR_CONTROL | tok::ATTR_UNKNOWN))) continue;
    const std::string& p = impl_->pieces[id];
    if (first && options.remove_space_prefix && impl_->add_space_prefix && !p.empty() && p[0] == ' ')
      s.append(p, 1);
    else
      s += p;
    first = false;
  }
  return s;
}

std::int32_t Tokenizer::n_vocab() const { return impl_->n_vocab(); }
TokenizerKind Tokenizer::kind() const { return impl_->kind; }
const std::string& Tokenizer::model_name() const { return impl_->model_name; }
const std::string& Tokenizer::pre_name() const { return impl_->pre_name; }

std::string_view Tokenizer::token_text(std::int32_t id) const {
  if (id < 0 || id >= impl_->n_vocab()) return {};
  return impl_->texts[id];
}
TokenType Tokenizer::token_type(std::int32_t id) const {
  if (id < 0 || id >= impl_->n_vocab()) return TokenType::UNDEFINED;
  if (impl_->attrs[id] & tok::ATTR_CONTROL) return TokenType::CONTROL;
  return impl_->file_types[id];
}
float Tokenizer::token_score(std::int32_t id) const {
  if (id < 0 || id >= impl_->n_vocab()) return 0.0f;
  return impl_->scores[id];
}
std::int32_t Tokenizer::find_token(std::string_view text) const { return impl_->find(text); }

std::int32_t Tokenizer::bos() const { return impl_->bos; }
std::int32_t Tokenizer::eos() const { return impl_->eos; }
std::int32_t Tokenizer::eot() const { return impl_->eot; }
std::int32_t Tokenizer::eom() const { return impl_->eom; }
std::int32_t Tokenizer::pad() const { return impl_->pad; }
std::int32_t Tokenizer::unk() const { return impl_->unk; }
std::int32_t Tokenizer::sep() const { return impl_->sep; }
std::int32_t Tokenizer::fim_pre() const { return impl_->fim_pre; }
std::int32_t Tokenizer::fim_suf() const { return impl_->fim_suf; }
std::int32_t Tokenizer::fim_mid() const { return impl_->fim_mid; }
std::int32_t Tokenizer::fim_pad() const { return impl_->fim_pad; }
std::int32_t Tokenizer::fim_rep() const { return impl_->fim_rep; }
std::int32_t Tokenizer::fim_sep() const { return impl_->fim_sep; }
bool Tokenizer::add_bos() const { return impl_->add_bos; }
bool Tokenizer::add_eos() const { return impl_->add_eos; }
bool Tokenizer::add_space_prefix() const { return impl_->add_space_prefix; }

bool Tokenizer::is_control(std::int32_t id) const {
  if (id < 0 || id >= impl_->n_vocab()) return false;
  return (impl_->attrs[id] & (tok::ATTR_CONTROL | tok::ATTR_UNKNOWN | tok::ATTR_UNUSED)) != 0;
}
bool Tokenizer::is_eog(std::int32_t id) const {
  if (id < 0 || id >= impl_->n_vocab()) return false;
  return impl_->eog[id];
}

// ---- streaming ----

std::size_t utf8_complete_prefix(std::string_view bytes) {
  // Look back at most 3 bytes for the lead byte of an unfinished sequence.
  const std::size_t n = bytes.size();
  for (std::size_t back = 1; back <= 4 && back <= n; ++back) {
    const auto c = static_cast<unsigned char>(bytes[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    std::size_t need = 1;
    if ((c & 0xE0) == 0xC0)
      need = 2;
    else if ((c & 0xF0) == 0xE0)
      need = 3;
    else if ((c & 0xF8) == 0xF0)
      need = 4;
    // An ASCII or invalid lead byte, or a finished sequence: everything is complete.
    return need > back ? n - back : n;
  }
  return n;  // only continuation bytes at the end: not completable, let them through
}

StreamingDecoder::StreamingDecoder(const Tokenizer& tokenizer, DecodeOptions options)
    : tokenizer_(&tokenizer), options_(options) {}

std::string StreamingDecoder::push(std::int32_t id) {
  const std::int32_t one[1] = {id};
  DecodeOptions o = options_;
  o.remove_space_prefix = options_.remove_space_prefix && first_;
  const std::string piece = tokenizer_->decode(std::span<const std::int32_t>(one, 1), o);
  const bool skipped = id < 0 || id >= tokenizer_->n_vocab() || (options_.skip_control && tokenizer_->is_control(id));
  if (!skipped) first_ = false;  // the dummy space prefix belongs to the first token only
  pending_ += piece;
  const std::size_t done = utf8_complete_prefix(pending_);
  std::string ready = pending_.substr(0, done);
  pending_.erase(0, done);
  return ready;
}

std::string StreamingDecoder::flush() {
  std::string rest;
  rest.swap(pending_);
  first_ = true;
  return rest;
}

void StreamingDecoder::reset() {
  pending_.clear();
  first_ = true;
}

}  // namespace rapide::inference
