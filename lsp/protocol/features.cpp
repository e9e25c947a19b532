#include "rapide/lsp/protocol/features.h"

namespace rapide::lsp {

InlineCompletionParams parse_inline_completion_params(const nlohmann::json& params, const JsonPath& at) {
  InlineCompletionParams p;
  const auto tp = parse_text_document_position(params, at);
  p.uri = tp.uri;
  p.position = tp.position;
  const auto ctx_at = at / "context";
  const auto& ctx = require_member(params, "context", at);
  const std::int64_t kind = read_int(require_member(ctx, "triggerKind", ctx_at), ctx_at / "triggerKind");
  if (kind != 1 && kind != 2)
    throw ParamsError((ctx_at / "triggerKind").str() + ": expected 1 (Invoked) or 2 (Automatic), got " +
                      std::to_string(kind));
  p.triggerKind = static_cast<InlineTriggerKind>(kind);
  if (const auto* sel = optional_member(ctx, "selectedCompletionInfo")) {
    const auto sel_at = ctx_at / "selectedCompletionInfo";
    p.selectedCompletionRange = parse_range(require_member(*sel, "range", sel_at), sel_at / "range");
    p.selectedCompletionText = read_string(require_member(*sel, "text", sel_at), sel_at / "text");
  }
  return p;
}

CompletionParams parse_completion_params(const nlohmann::json& params, const JsonPath& at) {
  CompletionParams p;
  const auto tp = parse_text_document_position(params, at);
  p.uri = tp.uri;
  p.position = tp.position;
  if (const auto* ctx = optional_member(params, "context")) {
    const auto ctx_at = at / "context";
    const std::int64_t kind = read_int(require_member(*ctx, "triggerKind", ctx_at), ctx_at / "triggerKind");
    if (kind < 1 || kind > 3)
      throw ParamsError((ctx_at / "triggerKind").str() + ": expected 1..3, got " + std::to_string(kind));
    p.triggerKind = kind;
  }
  return p;
}

CodeActionParams parse_code_action_params(const nlohmann::json& params, const JsonPath& at) {
  CodeActionParams p;
  p.uri = parse_document_uri(params, at);
  p.range = parse_range(require_member(params, "range", at), at / "range");
  const auto ctx_at = at / "context";
  const auto& ctx = require_member(params, "context", at);
  const auto diags_at = ctx_at / "diagnostics";
  const auto& diags = read_array(require_member(ctx, "diagnostics", ctx_at), diags_at);
  for (std::size_t i = 0; i < diags.size(); ++i) p.diagnostics.push_back(parse_diagnostic(diags.at(i), diags_at[i]));
  if (const auto* only = optional_member(ctx, "only")) {
    const auto only_at = ctx_at / "only";
    read_array(*only, only_at);
    p.only.emplace();
    for (std::size_t i = 0; i < only->size(); ++i) p.only->push_back(read_string(only->at(i), only_at[i]));
  }
  return p;
}

HoverParams parse_hover_params(const nlohmann::json& params, const JsonPath& at) {
  HoverParams p;
  const auto tp = parse_text_document_position(params, at);
  p.uri = tp.uri;
  p.position = tp.position;
  return p;
}

}  // namespace rapide::lsp
