// Fill-in-the-middle prompts from the model's own FIM tokens.
//
// Formats (chosen from the tokens the vocabulary has):
//   PLAIN      <fim_pre> prefix <fim_suf> suffix <fim_mid>                       (PSM order)
//              <fim_suf> suffix <fim_pre> prefix <fim_mid>                       (SPM order)
//   QWEN_REPO  Qwen2.5-Coder repository level (<|repo_name|>, <|file_sep|>):
//              <|repo_name|>repo\n <|file_sep|>path\ntext ... <|file_sep|>path\n  + the PLAIN part
//   STARCODER_REPO  StarCoder2 (<repo_name>, <file_sep>):
//              <repo_name>repo <file_sep>path\ntext ... <file_sep>path\n            + the PLAIN part
//
// Layout is stable-first so that the engine's KV prefix reuse works across keystrokes: BOS (when
// the model adds one), then the other files (in the order given: put the least changing first),
// then the current file's path, then the FIM part. While the user types at the cursor only the
// end of the prefix changes; in SPM order that is the very end of the prompt (the suffix comes
// before it), so a keystroke re-prefills a handful of tokens. In PSM order the suffix follows the
// prefix and is re-prefilled on every keystroke: keep it short (the rest of the block).
//
// Text is tokenized without parsing special tokens, so file contents can never inject control
// tokens. Thread-safety: a FimTemplate is immutable; build() may run on any thread.
#pragma once

#include "rapide/inference/result.h"
#include "rapide/inference/tokenizer.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rapide::inference::engine {

enum class FimOrder { PSM, SPM };
enum class FimFormat { PLAIN, QWEN_REPO, STARCODER_REPO };
std::string_view fim_format_name(FimFormat f);

struct FimInput {
  std::string_view prefix;     // text before the cursor
  std::string_view suffix;     // text after the cursor
  std::string file_path;       // the current file, relative to the repository ("" = none)
  std::vector<std::pair<std::string, std::string>> other_files;  // (path, text), stable first
  std::string repo_name = "repo";
};

struct FimPrompt {
  std::vector<std::int32_t> tokens;
  // Tokens before the FIM part (BOS, repository context, current path): identical across
  // keystrokes as long as the other files do not change.
  std::size_t context_tokens = 0;
};

class FimTemplate {
 public:
  // Errors when the vocabulary lacks <fim_pre>/<fim_suf>/<fim_mid>.
  static Result<FimTemplate> from_tokenizer(std::shared_ptr<const Tokenizer> tokenizer);

  FimFormat format() const { return format_; }
  bool repo_level() const { return format_ != FimFormat::PLAIN; }
  // Builds the prompt. For PLAIN models the other files and the path are left out: the format
  // has no separator token to place them with.
  FimPrompt build(const FimInput& in, FimOrder order) const;
  // Tokens that end a FIM completion: end-of-generation, <fim_pad>, the file separator and the
  // FIM markers themselves (a model that starts a new FIM block is done).
  std::vector<std::int32_t> stop_tokens() const;

 private:
  FimTemplate() = default;
  std::shared_ptr<const Tokenizer> tok_;
  FimFormat format_ = FimFormat::PLAIN;
  std::int32_t pre_ = -1, suf_ = -1, mid_ = -1, pad_ = -1, repo_ = -1, sep_ = -1;
};

}  // namespace rapide::inference::engine
