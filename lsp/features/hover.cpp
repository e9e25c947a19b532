// textDocument/hover: a short markdown explanation of the symbol or selection under the cursor,
// produced under the hover time budget and cached per (document version, target range).
#include "rapide/context/fix_context.h"
#include "rapide/lsp/assistant.h"
#include "rapide/lsp/model_host.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace rapide::lsp {
namespace {

using inference::engine::priority::kHover;
using Clock = std::chrono::steady_clock;

// At most `max_lines` lines of text around [focus_start, focus_end) (byte offsets in text).
std::string clip_lines(const std::string& text, std::size_t max_lines) {
  std::size_t lines = 0, i = 0;
  for (; i < text.size() && lines < max_lines; ++i)
    if (text[i] == '\n') ++lines;
  return i < text.size() ? text.substr(0, i) + "...\n" : text;
}

}  // namespace

void Assistant::hover(const HoverParams& p, CancelToken cancel, AnswerCallback<nlohmann::json> cb) {
  auto located = locate(p.uri, p.position);
  if (auto* e = std::get_if<RpcError>(&located)) return cb(*e);
  // Plain variables, not a structured binding: lambdas below capture them (clang 14, which builds
  // the fuzz targets, cannot capture structured bindings).
  DocumentSnapshot doc = std::get<Located>(located).doc;
  std::uint32_t offset = std::get<Located>(located).offset;
  if (auto e = model_unavailable()) return cb(*e);
  // This runs on the server's I/O thread: a tree not yet caught up with the last edit is reparsed
  // here within a few milliseconds at most, else the target is widened by lines.
  context::ParseBudget io_budget;
  io_budget.base = std::chrono::milliseconds(5);
  io_budget.per_mib = std::chrono::microseconds(0);
  const context::ExplainContext ex = context::explain_context(*doc, offset, offset, io_budget);
  if (ex.target.text.find_first_not_of(" \t\r\n") == std::string::npos) return cb(nlohmann::json(nullptr));
  const auto key = std::make_tuple(p.uri, doc->version(), ex.target.start_byte, ex.target.end_byte);
  std::uint64_t hover_id = 0;
  {
    std::lock_guard lock(hover_mutex_);
    // A newer hover supersedes the pending one: the user looks at one hover at a time. Cancelled
    // before it runs, it is dropped by the Scheduler without computing; running, the engine stops
    // it at the next forward pass.
    if (pending_hover_) pending_hover_->cancel.cancel();
    pending_hover_.reset();
    if (auto it = hover_cache_.find(key); it != hover_cache_.end()) {
      metrics_.hover_cache_hits.fetch_add(1);
      return cb(it->second);
    }
    hover_id = next_hover_id_++;
    pending_hover_ = PendingHover{p.uri, cancel, hover_id};
  }
  auto settle = [this, hover_id] {
    std::lock_guard lock(hover_mutex_);
    if (pending_hover_ && pending_hover_->id == hover_id) pending_hover_.reset();
  };
  auto model = models_.chat();
  const auto budget = std::chrono::milliseconds(options_.settings.hoverBudgetMs);
  const PositionEncoding enc = options_.encoding;
  Task t;
  t.priority = kHover;
  t.cancel = cancel;
  t.run = [this, model, doc, ex, key, cancel, cb, budget, enc, settle] {
    if (cancel.cancelled()) {  // went stale between the queue and now
      metrics_.hover_dropped.fetch_add(1);
      settle();
      return cb(RpcError{error_code::request_cancelled, "hover was cancelled"});
    }
    metrics_.hover_started.fetch_add(1);
    const auto t0 = Clock::now();  // the time budget starts now, when the job runs (not when queued)
    const std::string lang = ex.language.empty() ? std::string("code") : ex.language;
    const std::string subject = ex.symbol.empty() ? "the code `" + clip_lines(ex.target.text, 1) + "`"
                                                  : "`" + ex.symbol + "`";
    const std::string system =
        "You explain code to a programmer in short markdown: what it does, its inputs and outputs, and one "
        "pitfall if there is one. At most four sentences. No preamble.";
    const std::string user = "In this " + lang + " code:\n```" + lang + "\n" + clip_lines(ex.enclosing.text, 60) +
                             "```\nExplain " + subject + ".";
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(budget - (Clock::now() - t0));
    ChatRun run = run_chat(model, system, user, comment_prefix_for(lang), "", 120, kHover, cancel,
                           std::max(left, std::chrono::milliseconds(1)));
    settle();
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (run.cancelled) return cb(RpcError{error_code::request_cancelled, "hover was cancelled"});
    if (!run.error.empty()) return cb(RpcError{error_code::request_failed, run.error});
    metrics_.hover_latency.record(ms);
    std::string text = run.text;
    while (!text.empty() && (text.back() == ' ' || text.back() == '\n')) text.pop_back();
    if (text.empty()) return cb(nlohmann::json(nullptr));
    if (run.deadline) {
      text += " …";
      metrics_.hover_cut_at_budget.fetch_add(1);
    }
    const auto start = doc->lines().position(ex.target.start_byte, enc);
    const auto end = doc->lines().position(ex.target.end_byte, enc);
    const nlohmann::json answer = {
        {"contents",
         {{"kind", "markdown"},
          {"value", text + "\n\n---\n*rapide · " + model->name + " · " + std::to_string(static_cast<int>(ms)) +
                        " ms" + (run.deadline ? " · cut at the time budget" : "") + "*"}}},
        {"range", to_json(Range{{start.line, start.character}, {end.line, end.character}})}};
    {
      std::lock_guard lock(hover_mutex_);
      if (hover_cache_.size() > 256) hover_cache_.clear();
      hover_cache_[key] = answer;
    }
    cb(answer);
  };
  t.dropped = [this, cb, settle] {
    metrics_.hover_dropped.fetch_add(1);
    settle();
    cb(RpcError{error_code::request_cancelled, "hover was cancelled"});
  };
  scheduler_.schedule(std::move(t));
}

}  // namespace rapide::lsp
