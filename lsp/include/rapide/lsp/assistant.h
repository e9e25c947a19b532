// The feature layer (clangd ClangdServer's role): typed inputs in, answers out through
// callbacks, no JSON-RPC framing. It reads documents from the Scheduler, builds contexts with
// the context library and sends model work to the Engine (through the ModelHost). Every
// callback is called exactly once, from any thread.
//
// Errors come back as RpcError values: RequestFailed with a clear message when no model is
// loaded (or it failed to load), RequestCancelled when the CancelToken fired, ContentModified
// when a code action is resolved against a changed document, InvalidParams for a position
// outside the document.
//
// Latency tricks (inline completion): a typed-ahead cache answers without a model call when the
// user typed what the ghost text showed; a request whose prefix extends a generation still
// running (the user types what the model is producing) joins it instead of starting another
// (inflight.h); the next completion is prefetched as if the shown one were accepted (low
// priority), and didShowCompletion / didPartiallyAcceptCompletion warm the same way; the prompt
// is laid out stable-first so the engine reuses its KV cache; generation stops after a newline
// once the time budget is spent.
//
// Hover: a newer hover supersedes the pending one (a user reads one hover at a time) and a
// change of its document makes it stale: both are dropped without computing (or stopped at the
// next forward pass when already running). The time budget starts when the hover job runs.
#pragma once

#include "rapide/inference/engine/request_queue.h"
#include "rapide/lsp/completion_cache.h"
#include "rapide/lsp/inflight.h"
#include "rapide/lsp/json_rpc.h"
#include "rapide/lsp/metrics.h"
#include "rapide/lsp/protocol/features.h"
#include "rapide/lsp/protocol/lifecycle.h"
#include "rapide/lsp/scheduler.h"

#include <nlohmann/json.hpp>
#include <spdlog/logger.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <variant>

namespace rapide::lsp {

template <class T>
using Answer = std::variant<T, RpcError>;
template <class T>
using AnswerCallback = std::function<void(Answer<T>)>;

// What is known about the model: shown by rapide/status, used to answer model features.
// States as editors/protocol.json names them: "no-model", "loading", "ready", "error".
struct ModelStatus {
  enum class State { none, loading, ready, failed };
  State state = State::none;
  std::string path;
  std::string device = "cpu";
  std::string message;  // failure reason, or loading progress text
  double load_progress = 0.0;
  nlohmann::json to_json() const;
};

struct AssistantOptions {
  PositionEncoding encoding = PositionEncoding::utf16;
  Settings settings;
  bool prefetch = true;  // compute the next completion as if the shown one were accepted
};

class ModelHost;
struct LoadedModel;

class Assistant {
 public:
  Assistant(Scheduler& scheduler, ModelHost& models, Metrics& metrics, std::shared_ptr<spdlog::logger> logger);
  ~Assistant();

  void set_options(AssistantOptions options);  // loop thread
  const AssistantOptions& options() const { return options_; }
  ModelStatus model_status() const;

  // textDocument/inlineCompletion: an InlineCompletionList as JSON. Debounced per document; the
  // previous in-flight inline completion of the same document is cancelled.
  void inline_completion(const InlineCompletionParams& p, CancelToken cancel, AnswerCallback<nlohmann::json> cb);
  // textDocument/completion fallback: a CompletionList with the AI item (not debounced).
  void completion(const CompletionParams& p, CancelToken cancel, AnswerCallback<nlohmann::json> cb);
  // textDocument/codeAction: fast, without edits (filled by resolve).
  void code_actions(const CodeActionParams& p, CancelToken cancel, AnswerCallback<nlohmann::json> cb);
  // codeAction/resolve: the action with its edit computed and verified.
  void resolve_code_action(const nlohmann::json& action, CancelToken cancel, AnswerCallback<nlohmann::json> cb);
  // textDocument/hover: markdown explanation under the hover budget, cached per (version, range).
  void hover(const HoverParams& p, CancelToken cancel, AnswerCallback<nlohmann::json> cb);

  // Copilot-style notifications: the ghost text `text` was shown at `at` (or, after a partial
  // accept, its rest remains shown at `at`): computes the completion that follows it, as if
  // accepted, at background priority (fills the completion cache and the engine's KV cache).
  void did_show_completion(const std::string& uri, const std::string& text, const Position& at);
  // The first `accepted_utf16` UTF-16 units of the ghost text `text` shown at `at` were accepted
  // (the editor inserted them): warms for the rest, as did_show_completion.
  void did_partially_accept_completion(const std::string& uri, const std::string& text, const Position& at,
                                       std::uint32_t accepted_utf16);

  // Stops every running inline generation (shutdown, exit): joiners are answered as cancelled.
  void stop_generations();

  // The document changed (loop thread, after the Scheduler applied it): stale hovers are dropped,
  // a running generation is kept for a joiner or stopped.
  void document_changed(const std::string& uri);

 private:
  struct Located {
    DocumentSnapshot doc;
    std::uint32_t offset = 0;
  };
  // The error for model features when no model is ready, or nullopt when one is.
  std::optional<RpcError> model_unavailable() const;
  // Validates the document and position.
  Answer<Located> locate(const std::string& uri, const Position& pos) const;

  // Runs on a worker: the completion text at `offset` of `doc` (post-processed), or an error.
  struct CompletionRun {
    std::string text;
    bool cancelled = false;
    std::string error;
    double ms = 0;
  };
  // `observe`, when set, sees the raw text generated so far after each token; false stops.
  CompletionRun run_completion(const std::shared_ptr<LoadedModel>& model, const context::Snapshot& doc,
                               std::uint32_t offset, const CancelToken& cancel, int priority, const Settings& settings,
                               const std::function<bool(const std::string&)>& observe = {});
  // One inline completion request on its way (after the debounce).
  struct InlineJob {
    std::shared_ptr<LoadedModel> model;
    DocumentSnapshot doc;
    std::uint32_t offset = 0;
    CancelToken cancel;
    AnswerCallback<nlohmann::json> cb;
    Settings settings;
    std::string uri;
    Position pos;
    bool prefetch = true;
  };
  // On a worker: computes the job's completion as a joinable in-flight generation.
  void run_inline(const InlineJob& job);
  // Loop thread: queues the job for a worker now (no debounce).
  void schedule_inline(InlineJob job, bool debounced);
  // Loop thread: joins a running generation of the document when the job's text extends it.
  bool try_join(const InlineJob& job);
  // The completion after `shown` at `offset`, computed ahead unless the cache has it.
  void warm_after(const std::string& uri, const DocumentSnapshot& doc, std::uint32_t offset, const std::string& shown);
  void prefetch_after(const std::shared_ptr<LoadedModel>& model, const std::string& uri, DocumentSnapshot doc,
                      std::uint32_t offset, std::string shown, Settings settings);
  // Runs a chat prompt (fix/explain) on the chat model; the answer text or an error.
  struct ChatRun {
    std::string text;
    bool cancelled = false;
    bool deadline = false;
    std::string error;
  };
  ChatRun run_chat(const std::shared_ptr<LoadedModel>& model, const std::string& system, const std::string& user,
                   const std::string& comment_prefix, const std::string& answer_lead, int max_tokens, int priority,
                   const CancelToken& cancel, std::chrono::milliseconds budget);

  Scheduler& scheduler_;
  ModelHost& models_;
  Metrics& metrics_;
  std::shared_ptr<spdlog::logger> log_;
  AssistantOptions options_;
  CompletionCache cache_;
  std::mutex prefetch_mutex_;
  std::map<std::string, CancelToken> prefetch_;  // per document: the running prefetch
  std::mutex inflight_mutex_;
  std::map<std::string, std::shared_ptr<InflightGeneration>> inflight_;  // per document: the running one
  std::mutex hover_mutex_;
  std::map<std::tuple<std::string, std::int64_t, std::uint32_t, std::uint32_t>, nlohmann::json> hover_cache_;
  struct PendingHover {
    std::string uri;
    CancelToken cancel;
    std::uint64_t id = 0;
  };
  std::optional<PendingHover> pending_hover_;  // the latest hover not answered yet
  std::uint64_t next_hover_id_ = 1;
};

// The line comment token of an LSP language id ("#", "//", "--").
std::string comment_prefix_for(std::string_view language_id);

// Counts ERROR and MISSING nodes of a snapshot's tree (0 without a tree).
int count_parse_errors(const context::Snapshot& doc);

}  // namespace rapide::lsp
