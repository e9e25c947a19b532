// textDocument/inlineCompletion and the textDocument/completion fallback.
#include "rapide/lsp/assistant.h"
#include "rapide/lsp/model_host.h"

#include <spdlog/spdlog.h>

namespace rapide::lsp {
namespace {

using inference::engine::priority::kBackground;
using inference::engine::priority::kInlineCompletion;

nlohmann::json inline_list(const std::string& text, const Position& pos) {
  nlohmann::json items = nlohmann::json::array();
  if (!text.empty()) items.push_back({{"insertText", text}, {"range", to_json(Range{pos, pos})}});
  return {{"items", items}};
}

// The text after the cursor up to the end of its line.
std::string_view line_rest(const context::Snapshot& doc, std::uint32_t offset) {
  const auto& lines = doc.lines();
  const std::uint32_t end = lines.line_end(lines.line_of(offset));
  return std::string_view(doc.text()).substr(offset, end > offset ? end - offset : 0);
}

RpcError cancelled_error(const char* what) {
  return {error_code::request_cancelled, std::string(what) + " was cancelled (superseded by a newer request or an edit)"};
}

}  // namespace

void Assistant::inline_completion(const InlineCompletionParams& p, CancelToken cancel,
                                  AnswerCallback<nlohmann::json> cb) {
  metrics_.inline_requested.fetch_add(1);
  auto located = locate(p.uri, p.position);
  if (auto* e = std::get_if<RpcError>(&located)) return cb(*e);
  auto [doc, offset] = std::get<Located>(located);
  const std::string lang = doc->language() ? std::string(doc->language()->id) : std::string();
  if (!options_.settings.language_enabled(lang)) return cb(inline_list("", p.position));
  if (auto e = model_unavailable()) return cb(*e);
  const std::string_view before = std::string_view(doc->text()).substr(0, offset);
  if (auto hit = cache_.lookup(p.uri, before, line_rest(*doc, offset))) {
    metrics_.inline_cache_hits.fetch_add(1);
    metrics_.inline_latency.record(0.0);
    return cb(inline_list(*hit, p.position));
  }
  // A new request makes the document's prefetch useless unless it is for the same place: the
  // prefetch stays running only while its text could still serve (it is cancelled here
  // otherwise, as any other superseded work).
  {
    std::lock_guard lock(prefetch_mutex_);
    if (auto it = prefetch_.find(p.uri); it != prefetch_.end()) {
      it->second.cancel();
      prefetch_.erase(it);
    }
  }
  auto model = models_.completion();
  Task t;
  t.priority = kInlineCompletion;
  t.cancel = cancel;
  const Settings settings = options_.settings;
  const std::string uri = p.uri;
  const Position pos = p.position;
  const bool prefetch = options_.prefetch;
  t.run = [this, model, doc, offset, cancel, cb, settings, uri, pos, prefetch] {
    metrics_.inline_started.fetch_add(1);
    CompletionRun run = run_completion(model, *doc, offset, cancel, kInlineCompletion, settings);
    if (run.cancelled) {
      metrics_.inline_cancelled.fetch_add(1);
      return cb(cancelled_error("inline completion"));
    }
    if (!run.error.empty()) return cb(RpcError{error_code::request_failed, run.error});
    metrics_.inline_finished.fetch_add(1);
    metrics_.inline_latency.record(run.ms);
    scheduler_.record_latency(uri, run.ms);
    cache_.store(uri, std::string_view(doc->text()).substr(0, offset), line_rest(*doc, offset), run.text);
    cb(inline_list(run.text, pos));
    if (prefetch && !run.text.empty()) prefetch_after(model, uri, doc, offset, run.text, settings);
  };
  t.dropped = [this, cb] {
    metrics_.inline_cancelled.fetch_add(1);
    cb(cancelled_error("inline completion"));
  };
  scheduler_.schedule_debounced(p.uri, std::move(t));
}

void Assistant::prefetch_after(const std::shared_ptr<LoadedModel>& model, const std::string& uri, DocumentSnapshot doc,
                               std::uint32_t offset, std::string shown, Settings settings) {
  // Compute the completion that follows `shown`, on the text as it will be once accepted, at
  // background priority (the engine runs anything the user waits for first). A newer inline
  // request for the document cancels it.
  CancelToken cancel;
  {
    std::lock_guard lock(prefetch_mutex_);
    if (auto it = prefetch_.find(uri); it != prefetch_.end()) it->second.cancel();
    prefetch_[uri] = cancel;
  }
  Task t;
  t.priority = kBackground;
  t.cancel = cancel;
  t.run = [this, model, uri, doc, offset, shown = std::move(shown), settings, cancel] {
    std::string text = doc->text();
    text.insert(offset, shown);
    const auto next_offset = static_cast<std::uint32_t>(offset + shown.size());
    auto accepted = std::make_shared<context::Snapshot>(doc->path(), doc->language(), std::move(text), doc->version());
    CompletionRun run = run_completion(model, *accepted, next_offset, cancel, kBackground, settings);
    if (run.cancelled || !run.error.empty() || run.text.empty()) return;
    const std::string_view before = std::string_view(accepted->text()).substr(0, next_offset);
    cache_.store(uri, before, line_rest(*accepted, next_offset), run.text);
    log_->debug("prefetched {} bytes to follow the completion shown in {}", run.text.size(), uri);
  };
  scheduler_.schedule(std::move(t));
}

void Assistant::did_show_completion(const std::string& uri, const std::string& text) {
  log_->debug("completion shown in {} ({} bytes)", uri, text.size());
}

void Assistant::completion(const CompletionParams& p, CancelToken cancel, AnswerCallback<nlohmann::json> cb) {
  auto located = locate(p.uri, p.position);
  if (auto* e = std::get_if<RpcError>(&located)) return cb(*e);
  auto [doc, offset] = std::get<Located>(located);
  const std::string lang = doc->language() ? std::string(doc->language()->id) : std::string();
  if (!options_.settings.language_enabled(lang))
    return cb(nlohmann::json{{"isIncomplete", false}, {"items", nlohmann::json::array()}});
  if (auto e = model_unavailable()) return cb(*e);
  auto model = models_.completion();
  Task t;
  t.priority = kInlineCompletion;
  t.cancel = cancel;
  const Settings settings = options_.settings;
  const Position pos = p.position;
  const PositionEncoding enc = options_.encoding;
  t.run = [this, model, doc, offset, cancel, cb, settings, pos, enc] {
    CompletionRun run = run_completion(model, *doc, offset, cancel, kInlineCompletion, settings);
    if (run.cancelled) return cb(cancelled_error("completion"));
    if (!run.error.empty()) return cb(RpcError{error_code::request_failed, run.error});
    nlohmann::json items = nlohmann::json::array();
    if (!run.text.empty()) {
      // The item replaces the word before the cursor with word + completion, so that clients
      // filtering by the typed word keep it.
      std::uint32_t word_start = offset;
      const std::string& text = doc->text();
      const auto line_start = doc->lines().line_start(doc->lines().line_of(offset));
      while (word_start > line_start) {
        const char c = text[word_start - 1];
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) break;
        --word_start;
      }
      const std::string word = text.substr(word_start, offset - word_start);
      const auto start = doc->lines().position(word_start, enc);
      std::string label = run.text.substr(0, run.text.find('\n'));
      if (label.size() > 60) label = label.substr(0, 57) + "...";
      if (label.empty()) label = "(newline)";
      items.push_back({{"label", word + label},
                       {"kind", 1},
                       {"detail", "rapide (AI-generated)"},
                       {"filterText", word + run.text},
                       {"insertTextFormat", 1},
                       {"textEdit",
                        {{"range", to_json(Range{{start.line, start.character}, pos})}, {"newText", word + run.text}}}});
    }
    cb(nlohmann::json{{"isIncomplete", true}, {"items", items}});
  };
  t.dropped = [cb] { cb(cancelled_error("completion")); };
  scheduler_.schedule(std::move(t));
}

}  // namespace rapide::lsp
