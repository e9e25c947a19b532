#include "rapide/lsp/protocol/lifecycle.h"


namespace rapide::lsp {
namespace {

int read_bounded(const nlohmann::json& v, const JsonPath& at, int lo, int hi) {
  const std::int64_t n = read_int(v, at);
  if (n < lo || n > hi)
    throw ParamsError(at.str() + ": expected " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " +
                      std::to_string(n));
  return static_cast<int>(n);
}

}  // namespace

bool Settings::language_enabled(const std::string& language_id) const {
  if (const auto it = enable.find(language_id); it != enable.end()) return it->second;
  const auto star = enable.find("*");
  return star == enable.end() || star->second;
}

nlohmann::json Settings::to_json() const {
  nlohmann::json en = nlohmann::json::object();
  for (const auto& [k, v] : enable) en[k] = v;
  return {{"enable", en},
          {"maxTokens", maxTokens},     {"inlineBudgetMs", inlineBudgetMs},
          {"hoverBudgetMs", hoverBudgetMs}, {"codeActionBudgetMs", codeActionBudgetMs}};
}

void apply_settings(Settings& s, const nlohmann::json& section, const JsonPath& at) {
  if (section.is_null()) return;
  read_object(section, at);
  Settings next = s;
  if (const auto* v = optional_member(section, "enable")) {
    if (v->is_boolean()) {
      next.enable = {{"*", v->get<bool>()}};
    } else {
      read_object(*v, at / "enable");
      next.enable.clear();
      for (const auto& [lang, on] : v->items()) next.enable[lang] = read_bool(on, at / "enable" / lang);
    }
  }
  if (const auto* v = optional_member(section, "maxTokens")) next.maxTokens = read_bounded(*v, at / "maxTokens", 1, 4096);
  if (const auto* v = optional_member(section, "inlineBudgetMs"))
    next.inlineBudgetMs = read_bounded(*v, at / "inlineBudgetMs", 10, 600000);
  if (const auto* v = optional_member(section, "hoverBudgetMs"))
    next.hoverBudgetMs = read_bounded(*v, at / "hoverBudgetMs", 10, 600000);
  if (const auto* v = optional_member(section, "codeActionBudgetMs"))
    next.codeActionBudgetMs = read_bounded(*v, at / "codeActionBudgetMs", 10, 600000);
  s = std::move(next);
}

InitializeParams parse_initialize_params(const nlohmann::json& params, const JsonPath& at) {
  read_object(params, at);
  InitializeParams p;
  if (const auto* v = optional_member(params, "processId")) p.processId = read_int(*v, at / "processId");
  if (const auto* info = optional_member(params, "clientInfo"))
    p.clientName = read_string(require_member(*info, "name", at / "clientInfo"), at / "clientInfo" / "name");
  if (const auto* opts = optional_member(params, "initializationOptions")) p.initializationOptions = *opts;
  const auto caps_at = at / "capabilities";
  const auto& caps = read_object(require_member(params, "capabilities", at), caps_at);
  if (const auto* general = optional_member(caps, "general")) {
    if (const auto* enc = optional_member(*general, "positionEncodings")) {
      const auto enc_at = caps_at / "general" / "positionEncodings";
      read_array(*enc, enc_at);
      for (std::size_t i = 0; i < enc->size(); ++i)
        if (read_string(enc->at(i), enc_at[i]) == "utf-8") p.encoding = PositionEncoding::utf8;
    }
  }
  if (const auto* ws = optional_member(caps, "workspace"))
    if (const auto* c = optional_member(*ws, "configuration"))
      p.supportsConfiguration = read_bool(*c, caps_at / "workspace" / "configuration");
  if (const auto* td = optional_member(caps, "textDocument")) {
    read_object(*td, caps_at / "textDocument");
    if (const auto* ic = optional_member(*td, "inlineCompletion"); ic && !ic->is_null())
      p.supportsInlineCompletion = true;
  }
  if (const auto* win = optional_member(caps, "window"))
    if (const auto* c = optional_member(*win, "workDoneProgress"))
      p.supportsWorkDoneProgress = read_bool(*c, caps_at / "window" / "workDoneProgress");
  return p;
}

}  // namespace rapide::lsp
