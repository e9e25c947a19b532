// The inline-completion prompt: a context::CompletionContext turned into model tokens.
//
// Models with FIM tokens use the engine's FIM template (inference/engine/fim.h), in PSM order:
// repository-level layout when the vocabulary has repo/file-separator tokens (Qwen2.5-Coder,
// StarCoder2: other files as "<file_sep>path\ntext", then the current path), plain
// <fim_pre>prefix<fim_suf>suffix<fim_mid> otherwise, where the other files become comment
// blocks at the start of the prefix ("# path" + text) so they are not lost. The template's stop
// tokens (file separator, FIM markers, <fim_pad>) end the completion.
// Models without FIM tokens (base models such as the tiny stories model): [BOS] + the other files
// as comment blocks + the prefix; the suffix is not shown to the model (post-processing still
// trims overlap with it).
// Everything stable comes first so consecutive keystrokes share the longest token prefix (the
// engine reuses that much KV cache).
#pragma once

#include "rapide/context/completion_context.h"
#include "rapide/inference/tokenizer.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace rapide::lsp {

struct CompletionPrompt {
  std::vector<std::int32_t> tokens;
  std::vector<std::int32_t> stop_tokens;  // besides the tokenizer's end-of-generation tokens
  bool fim = false;                       // built with the FIM template
};

CompletionPrompt build_completion_prompt(const std::shared_ptr<const inference::Tokenizer>& tokenizer,
                                         const context::CompletionContext& ctx);

}  // namespace rapide::lsp
