// Turning a CompletionContext into the model's prompt tokens.
//
// Models with FIM tokens (tokenizer fim_pre/fim_suf/fim_mid): PSM order
//   [BOS] cross-file items [<file_sep>current path] <fim_pre> prefix <fim_suf> suffix <fim_mid>
// with cross-file items as "<file_sep>path\ntext" when the vocabulary has a file separator
// token (Qwen2.5-Coder's repository format <|file_sep|>, StarCoder2 <file_sep>), else each
// preceded by a comment line naming its path. Everything stable comes first so consecutive keystrokes share the longest
// token prefix (the engine reuses that much KV cache).
// Models without FIM tokens (base models such as the tiny stories model): [BOS] cross-file +
// prefix; the suffix is not shown to the model (post-processing still trims overlap with it).
#pragma once

#include "rapide/context/completion_context.h"
#include "rapide/inference/tokenizer.h"

#include <cstdint>
#include <vector>

namespace rapide::lsp {

std::vector<std::int32_t> render_fim_prompt(const inference::Tokenizer& tok, const context::CompletionContext& ctx);

}  // namespace rapide::lsp
