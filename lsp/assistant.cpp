// Assistant: shared pieces (model access, positions, running completions and chat prompts).
// The features live in features/*.cpp.
#include "rapide/lsp/assistant.h"

#include "rapide/context/postprocess.h"
#include "rapide/lsp/completion_prompt.h"
#include "rapide/lsp/model_host.h"

#include <spdlog/spdlog.h>
#include <tree_sitter/api.h>

namespace rapide::lsp {

using inference::engine::Finish;
using inference::engine::GenerateRequest;
using inference::engine::TokenEvent;
using Clock = std::chrono::steady_clock;

nlohmann::json ModelStatus::to_json() const {
  static constexpr const char* names[] = {"no-model", "loading", "ready", "error"};
  nlohmann::json j = {{"state", names[static_cast<int>(state)]}, {"device", device}};
  if (!path.empty()) j["model"] = path;
  if (!message.empty()) j["message"] = message;
  if (state == State::loading) j["loadPercent"] = static_cast<int>(load_progress * 100);
  return j;
}

std::string comment_prefix_for(std::string_view id) {
  for (std::string_view hash : {"python", "ruby", "shellscript", "bash", "sh", "yaml", "toml", "perl", "r", "makefile",
                                "dockerfile", "cmake", "elixir", "julia", "nim", "powershell"})
    if (id == hash) return "#";
  for (std::string_view dash : {"lua", "sql", "haskell", "ada", "elm"})
    if (id == dash) return "--";
  return "//";
}

int count_parse_errors(const context::Snapshot& doc) {
  if (!doc.tree()) return 0;
  int errors = 0;
  TSTreeCursor cursor = ts_tree_cursor_new(doc.root());
  for (;;) {
    const TSNode n = ts_tree_cursor_current_node(&cursor);
    if (ts_node_is_error(n) || ts_node_is_missing(n)) ++errors;
    // Descend only into subtrees that contain errors.
    if (ts_node_has_error(n) && ts_tree_cursor_goto_first_child(&cursor)) continue;
    bool moved = false;
    while (!moved) {
      if (ts_tree_cursor_goto_next_sibling(&cursor)) {
        moved = true;
      } else if (!ts_tree_cursor_goto_parent(&cursor)) {
        ts_tree_cursor_delete(&cursor);
        return errors;
      }
    }
  }
}

Assistant::Assistant(Scheduler& scheduler, ModelHost& models, Metrics& metrics, std::shared_ptr<spdlog::logger> logger)
    : scheduler_(scheduler), models_(models), metrics_(metrics), log_(std::move(logger)) {}

Assistant::~Assistant() {
  std::lock_guard lock(prefetch_mutex_);
  for (auto& [uri, tok] : prefetch_) tok.cancel();
}

void Assistant::set_options(AssistantOptions options) { options_ = std::move(options); }

ModelStatus Assistant::model_status() const { return models_.status(); }

std::optional<RpcError> Assistant::model_unavailable() const {
  const ModelStatus s = model_status();
  switch (s.state) {
    case ModelStatus::State::ready:
      return std::nullopt;
    case ModelStatus::State::none:
      return RpcError{error_code::request_failed,
                      "no model loaded: start the server with `rapide serve --model FILE.gguf` "
                      "(see `rapide serve --help`)"};
    case ModelStatus::State::loading:
      return RpcError{error_code::request_failed, "the model '" + s.path + "' is still loading (" +
                                                      std::to_string(static_cast<int>(s.load_progress * 100)) +
                                                      "%); try again shortly"};
    case ModelStatus::State::failed:
      break;
  }
  return RpcError{error_code::request_failed, "the model failed to load: " + s.message};
}

Answer<Assistant::Located> Assistant::locate(const std::string& uri, const Position& pos) const {
  Located l;
  l.doc = scheduler_.snapshot(uri);
  if (!l.doc) return RpcError{error_code::invalid_params, "document '" + uri + "' is not open (send didOpen first)"};
  const auto& lines = l.doc->lines();
  if (pos.line >= static_cast<std::int64_t>(lines.line_count()))
    return RpcError{error_code::invalid_params, "params.position: line " + std::to_string(pos.line) +
                                                    " is past the end of '" + uri + "', which has " +
                                                    std::to_string(lines.line_count()) + " lines (0-based)"};
  // A character past the end of the line means the line end (LSP rule); LineIndex clamps.
  const auto character = pos.character > static_cast<std::int64_t>(UINT32_MAX) ? UINT32_MAX
                                                                              : static_cast<std::uint32_t>(pos.character);
  l.offset = lines.offset({static_cast<std::uint32_t>(pos.line), character}, options_.encoding);
  return l;
}

Assistant::CompletionRun Assistant::run_completion(const std::shared_ptr<LoadedModel>& model,
                                                   const context::Snapshot& doc, std::uint32_t offset,
                                                   const CancelToken& cancel, int priority, const Settings& settings,
                                                   const std::function<bool(const std::string&)>& observe) {
  const auto t0 = Clock::now();
  CompletionRun out;
  if (model->remote) {  // --backend: the same prompt and stop rules, on a remote server
    auto r = model->remote->complete_inline(scheduler_.workspace(), doc, offset, cancel, settings, observe);
    out.text = std::move(r.text);  // empty after a failure (the user was told once)
    out.cancelled = r.cancelled;
    out.ms = r.ms;
    return out;
  }
  context::ContextOptions co;
  const int n_ctx = model->engine->options().n_ctx;
  co.budget_tokens = std::max(64, std::min(1536, n_ctx - settings.maxTokens - 8));
  auto tokenizer = model->tokenizer;
  co.count_tokens = [tokenizer](std::string_view s) {
    return static_cast<int>(tokenizer->encode(s, false, false).size());
  };
  const context::CompletionContext ctx =
      context::build_completion_context(scheduler_.workspace(), doc, offset, co);
  GenerateRequest r;
  CompletionPrompt prompt = build_completion_prompt(model->tokenizer, ctx);
  r.prompt = std::move(prompt.tokens);
  r.stop_tokens = std::move(prompt.stop_tokens);
  r.max_tokens = settings.maxTokens;
  r.priority = priority;
  r.cancel = cancel;
  r.speculation = model->speculation;
  const auto budget = std::chrono::milliseconds(settings.inlineBudgetMs);
  r.deadline = t0 + 3 * budget;  // hard bound; the soft budget below ends at a newline
  context::StreamingStopper stopper(doc, offset);
  std::string generated;
  bool budget_stop = false;
  r.on_token = [&](const TokenEvent& ev) {
    generated.append(ev.text);
    if (observe && !observe(generated)) return false;
    if (stopper.feed(generated)) return false;
    if (Clock::now() - t0 > budget && ev.text.find('\n') != std::string_view::npos) {
      budget_stop = true;
      return false;
    }
    return true;
  };
  const auto result = model->engine->generate(std::move(r));
  out.ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (result.finish == Finish::CANCELLED || cancel.cancelled()) {
    out.cancelled = true;
    return out;
  }
  if (result.finish == Finish::ERROR) {
    out.error = "generation failed: " + result.error;
    return out;
  }
  std::string text = result.text;
  if (stopper.should_stop()) text.resize(std::min(text.size(), stopper.keep_bytes()));
  if (budget_stop) {
    const auto nl = text.rfind('\n');
    if (nl != std::string::npos) text.resize(nl);
  }
  out.text = context::postprocess_completion(doc, offset, text).text;
  log_->debug("completion: {} prompt tokens ({} reused), {} generated, {:.0f} ms, finish {}", result.prompt_tokens,
              result.reused_tokens, result.tokens.size(), out.ms, inference::engine::finish_name(result.finish));
  return out;
}

Assistant::ChatRun Assistant::run_chat(const std::shared_ptr<LoadedModel>& model, const std::string& system,
                                       const std::string& user, const std::string& comment_prefix,
                                       const std::string& answer_lead, int max_tokens, int priority,
                                       const CancelToken& cancel, std::chrono::milliseconds budget) {
  ChatRun out;
  const ChatPrompt p = render_chat(model->chat_format, system, user, comment_prefix, answer_lead);
  if (model->remote) {
    RemoteBackend::Call call;
    call.prompt = p.text;
    call.max_tokens = max_tokens;
    call.stop = p.stop_strings;
    call.deadline = Clock::now() + budget;
    auto o = model->remote->complete(call, cancel);
    out.cancelled = o.cancelled;
    out.deadline = o.deadline_hit;
    out.text = std::move(o.text);
    if (!o.failure.empty()) out.error = "the completion backend failed: " + o.failure;
    return out;
  }
  GenerateRequest r;
  const auto& tok = *model->tokenizer;
  r.prompt = tok.encode(p.text, /*add_special=*/model->chat_format == ChatFormat::comment, /*parse_special=*/true);
  if (model->chat_format != ChatFormat::comment && tok.add_bos() && tok.bos() >= 0 &&
      (r.prompt.empty() || r.prompt.front() != tok.bos()))
    r.prompt.insert(r.prompt.begin(), tok.bos());
  const std::int32_t room = model->engine->options().n_ctx - static_cast<std::int32_t>(r.prompt.size()) - 1;
  if (room < 8) {
    out.error = "the prompt (" + std::to_string(r.prompt.size()) + " tokens) does not fit the model's context of " +
                std::to_string(model->engine->options().n_ctx) + " tokens";
    return out;
  }
  r.max_tokens = std::min<std::int32_t>(max_tokens, room);
  r.stop_strings = p.stop_strings;
  r.priority = priority;
  r.cancel = cancel;
  r.deadline = Clock::now() + budget;
  r.speculation = model->speculation;
  const auto result = model->engine->generate(std::move(r));
  if (result.finish == Finish::CANCELLED || cancel.cancelled()) {
    out.cancelled = true;
    return out;
  }
  if (result.finish == Finish::ERROR) {
    out.error = "generation failed: " + result.error;
    return out;
  }
  out.deadline = result.finish == Finish::DEADLINE;
  out.text = result.text;
  return out;
}

}  // namespace rapide::lsp
