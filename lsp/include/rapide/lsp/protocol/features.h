// Parameters and results of the feature requests: inline completion (LSP 3.18), completion,
// code action (+ resolve), hover. parse_* validate (unknown enum values are rejected with the
// JSON path); results are built as JSON by the server.
#pragma once

#include "rapide/lsp/protocol/basic.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace rapide::lsp {

enum class InlineTriggerKind { invoked = 1, automatic = 2 };

struct InlineCompletionParams {
  std::string uri;
  Position position;
  InlineTriggerKind triggerKind = InlineTriggerKind::automatic;
  std::optional<Range> selectedCompletionRange;  // context.selectedCompletionInfo.range
  std::optional<std::string> selectedCompletionText;
};

struct CompletionParams {
  std::string uri;
  Position position;
  std::optional<std::int64_t> triggerKind;  // 1 invoked, 2 trigger character, 3 incomplete
};

struct CodeActionParams {
  std::string uri;
  Range range;
  std::vector<Diagnostic> diagnostics;  // context.diagnostics
  std::optional<std::vector<std::string>> only;
};

struct HoverParams {
  std::string uri;
  Position position;
};

InlineCompletionParams parse_inline_completion_params(const nlohmann::json& params, const JsonPath& at);
CompletionParams parse_completion_params(const nlohmann::json& params, const JsonPath& at);
CodeActionParams parse_code_action_params(const nlohmann::json& params, const JsonPath& at);
HoverParams parse_hover_params(const nlohmann::json& params, const JsonPath& at);

}  // namespace rapide::lsp
