// textDocument/inlineCompletion and the textDocument/completion fallback.
#include "rapide/lsp/assistant.h"
#include "rapide/lsp/model_host.h"

#include <spdlog/spdlog.h>

#include <atomic>

namespace rapide::lsp {
namespace {

using inference::engine::priority::kBackground;
using inference::engine::priority::kInlineCompletion;
using Clock = std::chrono::steady_clock;

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

// Loop thread, every 20 ms until the generation ends: answers joiners whose request was
// cancelled and stops the generation once nobody can use it; `each_tick` runs after each tick
// that left it running (it answers the owner request once cancelled). The generation's own token
// is what the engine and the HTTP client poll; without this tick it was only checked when text
// arrived (on_stream), so a request cancelled while its generation waited for the first token (a
// busy remote server: nothing streams for as long as the server is busy) was not answered until
// that token came or the backend timed out (issue 10). Ticks left after the server is gone find
// the generation finished and touch nothing else (the server stops and joins every generation
// before the Assistant goes).
void watch_generation(EventLoop& loop, std::shared_ptr<InflightGeneration> gen, std::function<void()> each_tick) {
  if (gen->tick()) return;
  each_tick();
  loop.post_after(std::chrono::milliseconds(20), [&loop, gen, each_tick = std::move(each_tick)] {
    watch_generation(loop, gen, each_tick);
  });
}

}  // namespace

void Assistant::inline_completion(const InlineCompletionParams& p, CancelToken cancel,
                                  AnswerCallback<nlohmann::json> cb) {
  metrics_.inline_requested.fetch_add(1);
  auto located = locate(p.uri, p.position);
  if (auto* e = std::get_if<RpcError>(&located)) return cb(*e);
  // Plain variables, not a structured binding: lambdas below capture them (clang 14, which builds
  // the fuzz targets, cannot capture structured bindings).
  DocumentSnapshot doc = std::get<Located>(located).doc;
  std::uint32_t offset = std::get<Located>(located).offset;
  const std::string lang = doc->language() ? std::string(doc->language()->id) : std::string();
  if (!options_.settings.language_enabled(lang)) return cb(inline_list("", p.position));
  if (auto e = model_unavailable()) return cb(*e);
  const std::string_view before = std::string_view(doc->text()).substr(0, offset);
  if (auto hit = cache_.lookup(p.uri, before, line_rest(*doc, offset))) {
    metrics_.inline_cache_hits.fetch_add(1);
    metrics_.inline_latency.record(0.0);
    return cb(inline_list(*hit, p.position));
  }
  InlineJob job{models_.completion(), doc, offset, cancel, std::move(cb), options_.settings, p.uri, p.position,
                options_.prefetch};
  if (try_join(job)) return;
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
  schedule_inline(std::move(job), /*debounced=*/true);
}

void Assistant::schedule_inline(InlineJob job, bool debounced) {
  Task t;
  t.priority = kInlineCompletion;
  t.cancel = job.cancel;
  const std::string uri = job.uri;
  auto cb = job.cb;
  t.run = [this, job = std::move(job)] { run_inline(job); };
  t.dropped = [this, cb] {
    metrics_.inline_cancelled.fetch_add(1);
    cb(cancelled_error("inline completion"));
  };
  if (debounced) {
    scheduler_.schedule_debounced(uri, std::move(t));
  } else {
    scheduler_.schedule(std::move(t));
  }
}

bool Assistant::try_join(const InlineJob& job) {
  std::shared_ptr<InflightGeneration> gen;
  {
    std::lock_guard lock(inflight_mutex_);
    if (auto it = inflight_.find(job.uri); it != inflight_.end()) gen = it->second;
  }
  if (!gen) return false;
  const auto t0 = Clock::now();
  InflightGeneration::Joiner joiner;
  joiner.cancel = job.cancel;
  // Called once, from the generation's thread or a worker: the rest of the completion, or
  // nullopt when the generation cannot serve this request (then it is computed anew).
  joiner.done = [this, job, t0](std::optional<std::string> rest) {
    if (job.cancel.cancelled()) {
      metrics_.inline_cancelled.fetch_add(1);
      return job.cb(cancelled_error("inline completion"));
    }
    if (!rest) {
      scheduler_.loop().post([this, job] {
        if (job.cancel.cancelled()) {
          metrics_.inline_cancelled.fetch_add(1);
          return job.cb(cancelled_error("inline completion"));
        }
        schedule_inline(job, /*debounced=*/false);
      });
      return;
    }
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    metrics_.inline_latency.record(ms);
    cache_.store(job.uri, std::string_view(job.doc->text()).substr(0, job.offset), line_rest(*job.doc, job.offset), *rest);
    job.cb(inline_list(*rest, job.pos));
  };
  if (!gen->try_join(job.doc->text(), std::move(joiner))) return false;
  metrics_.inline_joined.fetch_add(1);
  scheduler_.track(job.uri, job.cancel);  // the next change or request cancels this one
  log_->debug("inline completion in {} joined the running generation", job.uri);
  return true;
}

void Assistant::run_inline(const InlineJob& job) {
  if (job.cancel.cancelled()) {  // cancelled between leaving the queue and starting
    metrics_.inline_cancelled.fetch_add(1);
    return job.cb(cancelled_error("inline completion"));
  }
  metrics_.inline_started.fetch_add(1);
  const std::string& text = job.doc->text();
  auto gen = std::make_shared<InflightGeneration>(text.substr(0, job.offset), text.substr(job.offset), job.cancel);
  {
    std::lock_guard lock(inflight_mutex_);
    inflight_[job.uri] = gen;
  }
  // The request that started the generation is answered once: as cancelled as soon as its token
  // fires (the watcher below), even while the generation goes on for requests that joined it,
  // or else at the end.
  auto answered = std::make_shared<std::atomic<bool>>(false);
  auto answer_cancelled = [this, cb = job.cb, answered] {
    if (answered->exchange(true)) return;
    metrics_.inline_cancelled.fetch_add(1);
    cb(cancelled_error("inline completion"));
  };
  if (!scheduler_.synchronous()) {
    EventLoop& loop = scheduler_.loop();
    loop.post([&loop, gen, owner = job.cancel, answer_cancelled] {
      watch_generation(loop, gen, [owner, answer_cancelled] {
        if (owner.cancelled()) answer_cancelled();
      });
    });
  }
  CompletionRun run = run_completion(job.model, *job.doc, job.offset, gen->cancel(), kInlineCompletion, job.settings,
                                     [&gen](const std::string& generated) { return gen->on_stream(generated); });
  {
    std::lock_guard lock(inflight_mutex_);
    if (auto it = inflight_.find(job.uri); it != inflight_.end() && it->second == gen) inflight_.erase(it);
  }
  const bool stopped = run.cancelled || gen->cancel().cancelled();
  const bool ok = !stopped && run.error.empty();
  gen->finish(ok ? std::optional<std::string>(run.text) : std::nullopt);
  if (ok) {
    metrics_.inline_finished.fetch_add(1);
    scheduler_.record_latency(job.uri, run.ms);
    cache_.store(job.uri, std::string_view(text).substr(0, job.offset), line_rest(*job.doc, job.offset), run.text);
  }
  if (stopped || job.cancel.cancelled()) return answer_cancelled();
  if (answered->exchange(true)) return;
  if (!run.error.empty()) return job.cb(RpcError{error_code::request_failed, run.error});
  metrics_.inline_latency.record(run.ms);
  job.cb(inline_list(run.text, job.pos));
  if (job.prefetch && !run.text.empty()) prefetch_after(job.model, job.uri, job.doc, job.offset, run.text, job.settings);
}

void Assistant::stop_generations() {
  std::lock_guard lock(inflight_mutex_);
  for (auto& [uri, gen] : inflight_) gen->cancel().cancel();
}

void Assistant::document_changed(const std::string& uri) {
  {  // A pending hover of this document is stale.
    std::lock_guard lock(hover_mutex_);
    if (pending_hover_ && pending_hover_->uri == uri) {
      pending_hover_->cancel.cancel();
      pending_hover_.reset();
    }
  }
  std::shared_ptr<InflightGeneration> gen;
  {
    std::lock_guard lock(inflight_mutex_);
    if (auto it = inflight_.find(uri); it != inflight_.end()) gen = it->second;
  }
  if (!gen) return;
  const auto doc = scheduler_.snapshot(uri);
  // Typed text that agrees with the stream keeps the generation for the request that follows
  // the change; after the grace period it stops unless that request joined.
  constexpr auto grace = std::chrono::milliseconds(300);
  if (!doc) {
    gen->cancel().cancel();
    return;
  }
  if (!gen->document_changed(doc->text(), grace))
    scheduler_.loop().post_after(grace + std::chrono::milliseconds(10), [gen] { gen->stop_if_unused(); });
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
    if (run.cancelled || !run.error.empty()) return;
    metrics_.inline_prefetched.fetch_add(1);
    if (run.text.empty()) return;
    const std::string_view before = std::string_view(accepted->text()).substr(0, next_offset);
    cache_.store(uri, before, line_rest(*accepted, next_offset), run.text);
    log_->debug("prefetched {} bytes to follow the completion shown in {}", run.text.size(), uri);
  };
  scheduler_.schedule(std::move(t));
}

void Assistant::did_show_completion(const std::string& uri, const std::string& text, const Position& at) {
  log_->debug("completion shown in {} ({} bytes)", uri, text.size());
  auto located = locate(uri, at);
  if (std::get_if<RpcError>(&located)) return;
  // Plain variables, not a structured binding: lambdas below capture them (clang 14, which builds
  // the fuzz targets, cannot capture structured bindings).
  DocumentSnapshot doc = std::get<Located>(located).doc;
  std::uint32_t offset = std::get<Located>(located).offset;
  warm_after(uri, doc, offset, text);
}

void Assistant::did_partially_accept_completion(const std::string& uri, const std::string& text, const Position& at,
                                                std::uint32_t accepted_utf16) {
  auto located = locate(uri, at);
  if (std::get_if<RpcError>(&located)) return;
  // Plain variables, not a structured binding: lambdas below capture them (clang 14, which builds
  // the fuzz targets, cannot capture structured bindings).
  DocumentSnapshot doc = std::get<Located>(located).doc;
  std::uint32_t offset = std::get<Located>(located).offset;
  // The bytes of `text` that make up its first accepted_utf16 UTF-16 units.
  std::size_t bytes = 0;
  for (std::uint32_t units = 0; bytes < text.size() && units < accepted_utf16;) {
    const auto c = static_cast<unsigned char>(text[bytes]);
    const std::size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    units += len == 4 ? 2 : 1;
    bytes = std::min(text.size(), bytes + len);
  }
  // The editor inserted the accepted part already: what stays shown follows it.
  if (std::string_view(doc->text()).substr(offset, bytes) != std::string_view(text).substr(0, bytes)) {
    log_->debug("partial accept in {}: the document does not hold the accepted text; not warmed", uri);
    return;
  }
  warm_after(uri, doc, static_cast<std::uint32_t>(offset + bytes), text.substr(bytes));
}

void Assistant::warm_after(const std::string& uri, const DocumentSnapshot& doc, std::uint32_t offset,
                           const std::string& shown) {
  if (shown.empty() || model_unavailable()) return;
  auto model = models_.completion();
  if (!model || !model->engine) return;  // nothing local to warm (a remote backend)
  // Already known: the cache holds what follows the shown text (our own prefetch computed it).
  const std::string accepted = std::string(std::string_view(doc->text()).substr(0, offset)) + shown;
  if (cache_.lookup(uri, accepted, line_rest(*doc, offset))) return;
  metrics_.inline_warmed.fetch_add(1);
  prefetch_after(model, uri, doc, offset, shown, options_.settings);
}

void Assistant::completion(const CompletionParams& p, CancelToken cancel, AnswerCallback<nlohmann::json> cb) {
  auto located = locate(p.uri, p.position);
  if (auto* e = std::get_if<RpcError>(&located)) return cb(*e);
  // Plain variables, not a structured binding: lambdas below capture them (clang 14, which builds
  // the fuzz targets, cannot capture structured bindings).
  DocumentSnapshot doc = std::get<Located>(located).doc;
  std::uint32_t offset = std::get<Located>(located).offset;
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
