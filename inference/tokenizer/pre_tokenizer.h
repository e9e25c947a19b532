// Pre-tokenizers of byte-level BPE vocabularies (`tokenizer.ggml.pre`): split text into words
// before BPE merges, with the same boundaries as llama.cpp.
//
// A pre-tokenizer is a list of split rules applied one after the other: each rule splits every
// piece produced so far into its matches and the text between them (both kept). The rules are the
// regexes llama.cpp uses for each `tokenizer.ggml.pre` value. The most common ones (gpt-2,
// llama-bpe, qwen2, qwen35) run as hand-written matchers over ICU category flags; the others run
// on PCRE2 (JIT) exactly the way llama.cpp runs them on std::regex: Unicode categories collapsed
// into one byte per code point, non-ASCII white space mapped to \v.
//
// Immutable after create(); split() may be called from any number of threads.
#pragma once

#include "rapide/inference/result.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rapide::inference::tok {

struct PreTokenizerOptions {
  bool ignore_merges = false;  // a word that is a whole vocabulary entry becomes that token
  bool add_bos = false;        // llama.cpp's default add_bos for this pre-tokenizer
};

class PreTokenizer {
 public:
  // `name` is the tokenizer.ggml.pre value ("default" for the default rules). Unknown names
  // are an error that lists the known ones.
  static Result<std::shared_ptr<const PreTokenizer>> create(std::string_view name);
  ~PreTokenizer();

  const std::string& name() const { return name_; }
  const PreTokenizerOptions& options() const { return options_; }

  // Splits the code points `cps` (decoded with utf8_decode) into words; appends each word's
  // length in code points to `lengths` (which is cleared first). Lengths sum to cps.size().
  void split(const std::vector<std::uint32_t>& cps, std::vector<std::uint32_t>& lengths) const;

  // All names create() accepts.
  static std::vector<std::string> known_names();

  struct Rule;

 private:
  PreTokenizer() = default;
  std::string name_;
  PreTokenizerOptions options_;
  std::vector<std::unique_ptr<Rule>> rules_;
};

}  // namespace rapide::inference::tok
