#include "rapide/lsp/fim_prompt.h"

namespace rapide::lsp {

std::vector<std::int32_t> render_fim_prompt(const inference::Tokenizer& tok, const context::CompletionContext& ctx) {
  std::vector<std::int32_t> out;
  auto append_text = [&](std::string_view text) {
    if (text.empty()) return;
    const auto ids = tok.encode(text, /*add_special=*/false, /*parse_special=*/false);
    out.insert(out.end(), ids.begin(), ids.end());
  };
  if (tok.add_bos() && tok.bos() >= 0) out.push_back(tok.bos());
  const bool fim = tok.fim_pre() >= 0 && tok.fim_suf() >= 0 && tok.fim_mid() >= 0;
  std::int32_t file_sep = tok.fim_sep();
  if (file_sep < 0) file_sep = tok.find_token("<|file_sep|>");
  if (file_sep < 0) file_sep = tok.find_token("<file_sep>");
  const std::string comment = ctx.comment_prefix.empty() ? std::string("//") : ctx.comment_prefix;
  for (const auto& item : ctx.cross_file) {
    if (file_sep >= 0) {
      out.push_back(file_sep);
      append_text(item.path + "\n" + item.text);
    } else {
      append_text(comment + " " + item.path + "\n" + item.text);
    }
    if (!item.text.empty() && item.text.back() != '\n') append_text("\n");
  }
  if (file_sep >= 0 && !ctx.cross_file.empty()) {
    out.push_back(file_sep);
    append_text(ctx.path + "\n");
  }
  if (fim) out.push_back(tok.fim_pre());
  append_text(ctx.prefix);
  if (fim) {
    out.push_back(tok.fim_suf());
    append_text(ctx.suffix);
    out.push_back(tok.fim_mid());
  }
  return out;
}

}  // namespace rapide::lsp
