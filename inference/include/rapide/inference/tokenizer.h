// Tokenizers read from GGUF metadata (`tokenizer.ggml.*`), producing the same token ids as
// llama.cpp for the same file and text.
//
// Kinds (`tokenizer.ggml.model`):
//   "gpt2"  byte-level BPE with a pre-tokenizer chosen by `tokenizer.ggml.pre` (qwen2, llama-bpe,
//           deepseek-coder, deepseek-llm, starcoder/refact, gpt-2, falcon, mpt, default ...).
//   "llama" SentencePiece-style BPE over scored pieces, byte fallback (<0xNN>), the U+2581 space
//           marker and the optional dummy space prefix.
//   "bert"  WordPiece (lower-casing, accent stripping, greedy longest match; [CLS] ... [SEP]).
//
// Special tokens: BOS/EOS/EOT/EOM/pad/unk/sep and the FIM tokens come from the metadata ids when
// present, else (EOT, FIM) from the well-known token texts of each family, as llama.cpp does.
// encode() splits the text on control-token texts only when parse_special is true; USER_DEFINED
// tokens are always matched (also as llama.cpp does).
//
// Thread-safety: a Tokenizer is immutable after from_gguf(); any number of threads may call its
// const members concurrently. It keeps no view into the GgufFile (everything is copied), so the
// file may be closed after loading.
//
// Errors: from_gguf() rejects missing or inconsistent metadata (what, which key, expected vs got).
// encode() never fails and treats bytes that are not valid UTF-8 as llama.cpp does (BPE and
// WordPiece see U+FFFD in their place; SentencePiece falls back to byte tokens). Ids out of range
// given to token_to_piece()/decode() yield an empty piece.
#pragma once

#include "rapide/inference/result.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rapide::inference {

namespace gguf {
class GgufFile;
}

// llama.cpp's token attribute types (tokenizer.ggml.token_type values).
enum class TokenType : std::int32_t {
  UNDEFINED = 0,
  NORMAL = 1,
  UNKNOWN = 2,
  CONTROL = 3,
  USER_DEFINED = 4,
  UNUSED = 5,
  BYTE = 6,
};

enum class TokenizerKind { SPM, BPE, WPM };

struct DecodeOptions {
  bool skip_control = false;        // drop CONTROL tokens (BOS, EOS, <|im_end|> ...) from the text
  bool remove_space_prefix = false;  // SPM with add_space_prefix: drop the dummy leading space
};

class Tokenizer {
 public:
  static Result<std::shared_ptr<const Tokenizer>> from_gguf(const gguf::GgufFile& file);

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Token ids of `text`. add_special: BOS (when add_bos()) first and EOS (when add_eos()) last.
  // parse_special: control-token texts inside `text` become their ids instead of being
  // tokenized as plain text.
  std::vector<std::int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;

  // The raw bytes the token stands for: byte-level BPE mapping undone, SPM U+2581 -> ' ',
  // <0xNN> -> that byte. Control tokens give their text (e.g. "<|im_end|>"). A piece may be an
  // incomplete UTF-8 sequence (use StreamingDecoder for streaming output).
  std::string token_to_piece(std::int32_t id) const;
  // Concatenation of the pieces (with the options applied).
  std::string decode(std::span<const std::int32_t> ids, DecodeOptions options = {}) const;

  std::int32_t n_vocab() const;
  TokenizerKind kind() const;
  const std::string& model_name() const;  // tokenizer.ggml.model
  const std::string& pre_name() const;    // the pre-tokenizer in use ("default" when absent)

  // The vocabulary entry as stored in the file (byte-level BPE text, SPM ▁ marker ...).
  std::string_view token_text(std::int32_t id) const;
  TokenType token_type(std::int32_t id) const;
  float token_score(std::int32_t id) const;
  std::int32_t find_token(std::string_view text) const;  // id of an exact vocab text, or -1

  // Special ids, -1 when absent.
  std::int32_t bos() const;
  std::int32_t eos() const;
  std::int32_t eot() const;
  std::int32_t eom() const;
  std::int32_t pad() const;
  std::int32_t unk() const;
  std::int32_t sep() const;
  std::int32_t fim_pre() const;
  std::int32_t fim_suf() const;
  std::int32_t fim_mid() const;
  std::int32_t fim_pad() const;
  std::int32_t fim_rep() const;
  std::int32_t fim_sep() const;
  bool add_bos() const;
  bool add_eos() const;
  bool add_space_prefix() const;  // SPM: a ' ' is prepended to the text before encoding

  bool is_control(std::int32_t id) const;  // CONTROL (or UNKNOWN/UNUSED): not printed as text
  bool is_eog(std::int32_t id) const;      // end of generation: eos, eot, eom, and the like

  struct Impl;

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Streaming-safe detokenizer: feed ids one at a time and get back only complete UTF-8; the bytes
// of a partial sequence are held until the rest arrives. Not thread-safe (one per stream); the
// Tokenizer must outlive it.
class StreamingDecoder {
 public:
  explicit StreamingDecoder(const Tokenizer& tokenizer, DecodeOptions options = {});

  // Appends the token's piece; returns the text that is now complete (possibly empty).
  std::string push(std::int32_t id);
  // Returns whatever is still held (an incomplete UTF-8 tail, as raw bytes) and resets.
  std::string flush();
  void reset();
  std::size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer* tokenizer_;
  DecodeOptions options_;
  std::string pending_;
  bool first_ = true;
};

// Length of the longest prefix of `bytes` that does not end inside a UTF-8 sequence that could
// still be completed (invalid bytes count as complete, so they are not held forever).
std::size_t utf8_complete_prefix(std::string_view bytes);

}  // namespace rapide::inference
