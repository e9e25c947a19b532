#include "rapide/lsp/completion_prompt.h"

#include "rapide/inference/engine/fim.h"

namespace rapide::lsp {
namespace {

// The other files as comment blocks: "<comment> path\ntext\n" each.
std::string cross_file_comments(const context::CompletionContext& ctx) {
  const std::string comment = ctx.comment_prefix.empty() ? std::string("//") : ctx.comment_prefix;
  std::string out;
  for (const auto& item : ctx.cross_file) {
    out += comment + " " + item.path + "\n" + item.text;
    if (!item.text.empty() && item.text.back() != '\n') out += '\n';
  }
  return out;
}

}  // namespace

CompletionPrompt build_completion_prompt(const std::shared_ptr<const inference::Tokenizer>& tokenizer,
                                         const context::CompletionContext& ctx) {
  CompletionPrompt p;
  auto fim = inference::engine::FimTemplate::from_tokenizer(tokenizer);
  if (fim) {
    inference::engine::FimInput in;
    std::string prefix;
    if (fim->repo_level()) {
      in.prefix = ctx.prefix;
      in.file_path = ctx.path;
      for (const auto& item : ctx.cross_file) in.other_files.emplace_back(item.path, item.text);
    } else {
      prefix = cross_file_comments(ctx) + ctx.prefix;
      in.prefix = prefix;
    }
    in.suffix = ctx.suffix;
    p.tokens = fim->build(in, inference::engine::FimOrder::PSM).tokens;
    p.stop_tokens = fim->stop_tokens();
    p.fim = true;
    return p;
  }
  const auto& tok = *tokenizer;
  if (tok.add_bos() && tok.bos() >= 0) p.tokens.push_back(tok.bos());
  const std::string text = cross_file_comments(ctx) + ctx.prefix;
  const auto ids = tok.encode(text, /*add_special=*/false, /*parse_special=*/false);
  p.tokens.insert(p.tokens.end(), ids.begin(), ids.end());
  return p;
}

}  // namespace rapide::lsp
