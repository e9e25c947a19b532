// textDocument/codeAction + codeAction/resolve: quick fixes for the diagnostics the client
// sends (from any server), and "explain" / "add comment" rewrites of a selection. The list is
// returned at once, without edits; resolve runs the model, computes a minimal edit and verifies
// it with tree-sitter (the edited document must not have more parse errors than before, else the
// action is marked unverified).
#include "rapide/context/fix_context.h"
#include "rapide/lsp/assistant.h"
#include "rapide/lsp/chat_format.h"
#include "rapide/lsp/model_host.h"

#include <spdlog/spdlog.h>

namespace rapide::lsp {
namespace {

using inference::engine::priority::kCodeAction;
using Clock = std::chrono::steady_clock;

bool kind_wanted(const std::optional<std::vector<std::string>>& only, std::string_view kind) {
  if (!only) return true;
  for (const auto& k : *only)
    if (kind == k || (kind.size() > k.size() && kind.substr(0, k.size()) == k && kind[k.size()] == '.')) return true;
  return false;
}

std::string shorten(std::string s, std::size_t n) {
  const auto nl = s.find('\n');
  if (nl != std::string::npos) s.resize(nl);
  return s.size() > n ? s.substr(0, n - 3) + "..." : s;
}

bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// The smallest single edit turning old_text into new_text: [start, end) of old_text -> text.
struct MinimalEdit {
  std::size_t start = 0, end = 0;
  std::string text;
};

MinimalEdit minimal_edit(std::string_view a, std::string_view b) {
  std::size_t p = 0;
  while (p < a.size() && p < b.size() && a[p] == b[p]) ++p;
  while (p > 0 && p < a.size() && is_continuation(a[p])) --p;
  std::size_t s = 0;
  while (s < a.size() - p && s < b.size() - p && a[a.size() - 1 - s] == b[b.size() - 1 - s]) ++s;
  while (s > 0 && a.size() - s < a.size() && is_continuation(a[a.size() - s])) --s;
  return {p, a.size() - s, std::string(b.substr(p, b.size() - s - p))};
}

std::string indentation_of(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  return std::string(line.substr(0, i));
}

// Turns an answer into comment lines with the given indentation.
std::string as_comment(const std::string& answer, const std::string& prefix, const std::string& indent) {
  std::string out;
  std::size_t start = 0;
  while (start < answer.size()) {
    std::size_t end = answer.find('\n', start);
    if (end == std::string::npos) end = answer.size();
    std::string line = answer.substr(start, end - start);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
    out += indent + prefix + (line.empty() ? "" : " " + line) + "\n";
    start = end + 1;
  }
  return out;
}

}  // namespace

void Assistant::code_actions(const CodeActionParams& p, CancelToken, AnswerCallback<nlohmann::json> cb) {
  const auto t0 = Clock::now();
  auto located = locate(p.uri, p.range.start);
  if (auto* e = std::get_if<RpcError>(&located)) return cb(*e);
  auto located_end = locate(p.uri, p.range.end);
  if (auto* e = std::get_if<RpcError>(&located_end)) return cb(*e);
  auto doc = std::get<Located>(located).doc;
  nlohmann::json actions = nlohmann::json::array();
  // Without a model there is nothing to offer; the missing model was reported by showMessage
  // and resolve would only fail.
  if (model_unavailable()) return cb(actions);
  const nlohmann::json base = {{"uri", p.uri}, {"version", doc->version()}};
  if (kind_wanted(p.only, "quickfix")) {
    for (const auto& d : p.diagnostics) {
      nlohmann::json data = base;
      data["rapide"] = "fix";
      data["range"] = to_json(d.range);
      data["message"] = d.message;
      actions.push_back({{"title", "rapide: fix \"" + shorten(d.message, 60) + "\""},
                         {"kind", "quickfix"},
                         {"diagnostics", {to_json(d)}},
                         {"data", data}});
    }
  }
  if (p.range.start != p.range.end && kind_wanted(p.only, "refactor.rewrite")) {
    for (const auto& [what, title] : {std::pair{"explain", "rapide: explain the selection (as a comment)"},
                                      std::pair{"docstring", "rapide: add a docstring/comment"}}) {
      nlohmann::json data = base;
      data["rapide"] = what;
      data["range"] = to_json(p.range);
      actions.push_back({{"title", title}, {"kind", "refactor.rewrite"}, {"data", data}});
    }
  }
  metrics_.code_action_latency.record(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  cb(actions);
}

void Assistant::resolve_code_action(const nlohmann::json& action, CancelToken cancel,
                                    AnswerCallback<nlohmann::json> cb) {
  const JsonPath at("params");
  const auto& data = require_member(action, "data", at);
  const std::string what = read_string(require_member(data, "rapide", at / "data"), at / "data" / "rapide");
  if (what != "fix" && what != "explain" && what != "docstring")
    throw ParamsError((at / "data" / "rapide").str() + ": expected fix, explain or docstring, got '" + what + "'");
  const std::string uri = read_string(require_member(data, "uri", at / "data"), at / "data" / "uri");
  const std::int64_t version = read_int(require_member(data, "version", at / "data"), at / "data" / "version");
  const Range range = parse_range(require_member(data, "range", at / "data"), at / "data" / "range");
  std::string message;
  if (const auto* m = optional_member(data, "message")) message = read_string(*m, at / "data" / "message");
  if (auto e = model_unavailable()) return cb(*e);
  auto start = locate(uri, range.start);
  if (auto* e = std::get_if<RpcError>(&start)) return cb(*e);
  auto end = locate(uri, range.end);
  if (auto* e = std::get_if<RpcError>(&end)) return cb(*e);
  auto doc = std::get<Located>(start).doc;
  if (doc->version() != version)
    return cb(RpcError{error_code::content_modified, "the document changed (version " + std::to_string(doc->version()) +
                                                         ", the action was made for " + std::to_string(version) +
                                                         "): request code actions again"});
  const std::uint32_t a = std::get<Located>(start).offset, b = std::max(a, std::get<Located>(end).offset);
  auto model = models_.chat();
  const PositionEncoding enc = options_.encoding;
  const auto budget = std::chrono::milliseconds(options_.settings.codeActionBudgetMs);
  Task t;
  t.priority = kCodeAction;
  t.cancel = cancel;
  t.run = [this, model, doc, a, b, what, message, action, uri, cancel, cb, enc, budget] {
    const auto t0 = Clock::now();
    const std::string lang = doc->language() ? std::string(doc->language()->id) : std::string("code");
    const std::string comment = comment_prefix_for(lang);
    std::size_t region_start = 0, region_end = 0;
    std::string replacement;
    nlohmann::json resolved = action;
    if (what == "fix") {
      const context::FixContext fc = context::fix_context(*doc, a, b);
      const std::uint32_t line = doc->lines().line_of(a) + 1;
      const std::string system =
          "You fix code. Reply with the corrected version of the given lines only, in one fenced code block, "
          "keeping their indentation. No explanation.";
      const std::string user = "A " + lang + " file has this error at line " + std::to_string(line) + ": " +
                               message + "\nThe enclosing code:\n```" + lang + "\n" + fc.function.text +
                               "```\nRewrite these lines so the error is gone:\n```" + lang + "\n" +
                               fc.statement.text + "```";
      const bool base_model = model->chat_format == ChatFormat::comment;
      ChatRun run = run_chat(model, system, user, comment, base_model ? "" : "```" + lang + "\n", 256, kCodeAction,
                             cancel, budget);
      if (run.cancelled) return cb(RpcError{error_code::request_cancelled, "code action resolve was cancelled"});
      if (!run.error.empty()) return cb(RpcError{error_code::request_failed, run.error});
      replacement = base_model ? run.text : extract_code_block("```" + lang + "\n" + run.text);
      if (!fc.statement.text.empty() && fc.statement.text.back() == '\n' &&
          (replacement.empty() || replacement.back() != '\n'))
        replacement += '\n';
      region_start = fc.statement.start_byte;
      region_end = fc.statement.end_byte;
      if (replacement.find_first_not_of(" \t\r\n") == std::string::npos || replacement == fc.statement.text)
        return cb(RpcError{error_code::request_failed, "the model proposed no change for this diagnostic"});
    } else {
      const context::ExplainContext ex = context::explain_context(*doc, a, b);
      const bool explain = what == "explain";
      const std::string system = explain ? "You explain code briefly and precisely: what it does, inputs, outputs, "
                                           "pitfalls. At most five short lines of plain text."
                                         : "You write the documentation comment of code: one summary line, then its "
                                           "parameters and result. Plain text, at most six short lines.";
      const std::string user = (explain ? "Explain this " : "Document this ") + lang + " code:\n```" + lang + "\n" +
                               ex.target.text + "```";
      ChatRun run = run_chat(model, system, user, comment, "", 160, kCodeAction, cancel, budget);
      if (run.cancelled) return cb(RpcError{error_code::request_cancelled, "code action resolve was cancelled"});
      if (!run.error.empty()) return cb(RpcError{error_code::request_failed, run.error});
      std::string answer = run.text;
      while (!answer.empty() && (answer.back() == '\n' || answer.back() == ' ')) answer.pop_back();
      if (answer.empty()) return cb(RpcError{error_code::request_failed, "the model gave an empty answer"});
      const std::uint32_t line = doc->lines().line_of(ex.target.start_byte);
      region_start = region_end = doc->lines().line_start(line);
      replacement = as_comment(answer, comment, indentation_of(doc->lines().line_text(line)));
    }
    // Minimal edit inside the region, then the parse check on the whole edited document.
    const std::string_view old_region = std::string_view(doc->text()).substr(region_start, region_end - region_start);
    const MinimalEdit e = minimal_edit(old_region, replacement);
    std::string edited = doc->text();
    edited.replace(region_start + e.start, e.end - e.start, e.text);
    const context::Snapshot after(doc->path(), doc->language(), std::move(edited), doc->version() + 1);
    const int errors_before = count_parse_errors(*doc), errors_after = count_parse_errors(after);
    const bool verified = errors_after <= errors_before;
    const auto p0 = doc->lines().position(static_cast<std::uint32_t>(region_start + e.start), enc);
    const auto p1 = doc->lines().position(static_cast<std::uint32_t>(region_start + e.end), enc);
    const TextEdit edit{Range{{p0.line, p0.character}, {p1.line, p1.character}}, e.text};
    resolved["edit"] = {{"changes", {{uri, {to_json(edit)}}}}};
    if (!verified) {
      resolved["title"] = action.at("title").get<std::string>() + " (unverified: adds parse errors)";
      resolved["isPreferred"] = false;
    }
    resolved["data"]["verified"] = verified;
    resolved["data"]["parseErrors"] = {{"before", errors_before}, {"after", errors_after}};
    metrics_.code_action_latency.record(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    cb(resolved);
  };
  t.dropped = [cb] { cb(RpcError{error_code::request_cancelled, "code action resolve was cancelled"}); };
  scheduler_.schedule(std::move(t));
}

}  // namespace rapide::lsp
