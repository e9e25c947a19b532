// A summary of a GGUF file for people and tools (`rapide gguf info`): architecture,
// hyperparameters, tokenizer, tensor table and totals. Works on vocabulary-only files (no
// tensors). Pure functions over an open GgufFile; the summary's views point into that file.
#pragma once

#include "rapide/inference/gguf.h"
#include "rapide/inference/tensor_type.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rapide::inference::gguf {

struct TypeTotals {
  TensorType type = TensorType::F32;
  std::uint64_t tensors = 0;
  std::uint64_t parameters = 0;  // elements
  std::uint64_t bytes = 0;
};

struct SpecialToken {
  std::string_view name;  // "bos", "eos", "eot", "unknown", "padding", "fim_pre", ...
  std::int64_t id = -1;
  std::string_view text;  // the token's text when the id is inside the vocabulary, else ""
};

struct TokenizerSummary {
  bool present = false;          // any tokenizer.ggml.* key
  std::string_view model;        // tokenizer.ggml.model ("gpt2", "llama", ...), "" when absent
  std::string_view pre;          // tokenizer.ggml.pre, "" when absent
  std::uint64_t vocab_size = 0;  // entries of tokenizer.ggml.tokens
  std::uint64_t merges = 0;      // entries of tokenizer.ggml.merges
  std::optional<bool> add_bos, add_eos;
  std::vector<SpecialToken> special;  // in a fixed order, only the ids the file sets
};

struct GgufSummary {
  std::string_view architecture;  // general.architecture, "" when absent
  std::string_view name;          // general.name, "" when absent
  std::optional<std::uint64_t> file_type;                 // general.file_type (llama_ftype)
  std::vector<const KeyValue*> general;          // general.* keys
  std::vector<const KeyValue*> hyperparameters;  // "{architecture}.*" keys, file order
  TokenizerSummary tokenizer;
  std::uint64_t other_keys = 0;  // keys in none of the groups above (tokenizer.* excluded)
  std::uint64_t parameters = 0;
  std::uint64_t tensor_bytes = 0;
  std::vector<TypeTotals> by_type;  // sorted by bytes, largest first
};

GgufSummary summarize(const GgufFile& file);

// A value as text: numbers, quoted strings, and arrays as "[a, b, ...] (n items)" showing at
// most `max_items` elements.
std::string format_value(const Value& v, std::size_t max_items = 8);
// "[64, 512]"
std::string format_shape(const std::vector<std::int64_t>& dims);
// llama.cpp's name of a general.file_type value ("Q4_K_M", "F16"), "" when unknown.
std::string_view file_type_name(std::uint64_t file_type);

}  // namespace rapide::inference::gguf
