// initialize parameters (the parts the server uses) and the `rapide.*` settings, which arrive
// through initializationOptions, workspace/configuration and workspace/didChangeConfiguration.
#pragma once

#include "rapide/lsp/protocol/json_read.h"
#include "rapide/context/text.h"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rapide::lsp {

using context::PositionEncoding;

// Settings under the `rapide` section, as editors/protocol.json defines them (the contract with
// the editor clients). Keys that only the client uses (serverPath) or that are command-line
// flags (modelPath, device, ...) are accepted and ignored here. Unknown keys are ignored (newer
// clients); known keys with the wrong type or range are rejected with their path.
struct Settings {
  // rapide.enable: inline completions per language id, "*" for the others; a plain boolean
  // sets "*".
  std::map<std::string, bool> enable = {{"*", true}, {"plaintext", false}, {"markdown", false}, {"scminput", false}};
  int maxTokens = 128;                         // rapide.maxTokens: per inline completion
  int inlineBudgetMs = 2000;                   // rapide.inlineBudgetMs: stop after a newline once spent
  int hoverBudgetMs = 3000;                    // rapide.hoverBudgetMs
  int codeActionBudgetMs = 8000;               // rapide.codeActionBudgetMs

  bool language_enabled(const std::string& language_id) const;
  nlohmann::json to_json() const;
};

// Applies the members present in `section` (the value of the "rapide" key) onto `s`.
// Throws ParamsError on a wrong type or out-of-range value.
void apply_settings(Settings& s, const nlohmann::json& section, const JsonPath& at);

struct InitializeParams {
  std::optional<std::int64_t> processId;
  PositionEncoding encoding = PositionEncoding::utf16;  // negotiated from general.positionEncodings
  bool supportsConfiguration = false;                   // workspace.configuration
  bool supportsWorkDoneProgress = false;                // window.workDoneProgress
  bool supportsInlineCompletion = false;                // textDocument.inlineCompletion (LSP 3.18)
  std::optional<nlohmann::json> initializationOptions;
  std::string clientName;
};

InitializeParams parse_initialize_params(const nlohmann::json& params, const JsonPath& at);

}  // namespace rapide::lsp
