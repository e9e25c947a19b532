// The language server's remote backend (`rapide serve --backend http://host:port/v1`): inline
// completions and chat prompts go to an OpenAI-compatible POST /v1/completions server (vLLM,
// SGLang, TGI, llama.cpp's server, `rapide serve-http`) instead of a local Engine.
//
// Prompt: the layout of build_completion_prompt (completion_prompt.h) written as text, the control tokens
// spelled out ("<|fim_prefix|>...<|fim_suffix|>...<|fim_middle|>"). OpenAI-compatible servers
// turn those texts back into their special ids (llama.cpp's server, vLLM and `rapide serve-http`
// parse special tokens in prompts) and add BOS themselves, so the remote model sees the ids the
// local engine would. The control-token texts come from a GGUF tokenizer (`--model F` together
// with `--backend`: only the vocabulary is read, the weights stay on disk), which also counts
// tokens for the context budget, or else from a named FIM format (qwen, starcoder, deepseek,
// none) with token counts estimated from the length.
//
// Streaming: the text arrives as server-sent events and goes through the same stop rules as a
// local completion (context::StreamingStopper, the inline time budget); stopping or an LSP
// cancellation closes the HTTP connection at once, which makes the server stop generating.
//
// Failures (unreachable server, HTTP errors, timeouts) are results, never exceptions: a completion
// then comes back empty with `failure` set, and the failure reporter (set_failure_reporter) is
// called once per outage (again only after a request has succeeded in between).
//
// Thread-safety: every member may be called from several threads at once.
#pragma once

#include "rapide/context/completion_context.h"
#include "rapide/inference/engine/request_queue.h"
#include "rapide/inference/result.h"
#include "rapide/inference/tokenizer.h"
#include "rapide/lsp/protocol/lifecycle.h"

#include <spdlog/logger.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rapide::lsp {

class OpenAiClient;

// How a model's FIM control tokens are written (empty: the model has none).
struct FimSpelling {
  std::string prefix, suffix, middle;
  // Repository-level layout (engine/fim.h): both set, e.g. "<|repo_name|>" and "<|file_sep|>".
  std::string repo_name, file_sep;
  bool qwen_repo = false;  // Qwen's layout (a newline after the repo name, files end with one)
  bool fim() const { return !prefix.empty() && !suffix.empty() && !middle.empty(); }
  bool repo_level() const { return fim() && !repo_name.empty() && !file_sep.empty(); }
};
// Named formats: "qwen" (Qwen2.5-Coder, repository-level), "starcoder" (StarCoder2,
// repository-level), "deepseek" (DeepSeek-Coder), "none" (prefix-only prompts). Unknown names are
// an error listing the known ones.
Result<FimSpelling> fim_spelling_named(std::string_view name);
// The spelling of the tokenizer's own FIM tokens (their vocabulary texts).
FimSpelling fim_spelling_of(const inference::Tokenizer& tokenizer);

struct RemoteBackendOptions {
  std::string url;                  // http://host[:port]/v1
  std::string api_key;              // sent as "Authorization: Bearer ..." when non-empty
  std::string model;                // "model" in requests; "" : the first id of GET /models
  std::string fim_format = "qwen";  // used when no tokenizer is given
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds response_timeout{30000};  // a whole response, at most
  std::int32_t n_ctx = 4096;        // the remote model's context (for the prompt budget)
};

class RemoteBackend {
 public:
  // Checks the URL's form and the FIM format; contacts nothing. `tokenizer` may be null.
  static Result<std::shared_ptr<RemoteBackend>> create(RemoteBackendOptions options,
                                                       std::shared_ptr<const inference::Tokenizer> tokenizer,
                                                       std::shared_ptr<spdlog::logger> logger);
  ~RemoteBackend();

  const std::string& url() const { return options_.url; }
  const RemoteBackendOptions& options() const { return options_; }
  const FimSpelling& spelling() const { return spelling_; }
  // Called (from a worker thread) with a message for the user when the backend starts failing.
  void set_failure_reporter(std::function<void(const std::string& message)> report);

  // The prompt text for a completion context: tokenized by the server (control-token texts as
  // their ids, BOS added as the model wants) it gives build_completion_prompt's tokens.
  std::string render_prompt(const context::CompletionContext& ctx) const;
  // Tokens of `text` for the context budget: exact with a tokenizer, else about 3 bytes a token.
  int count_tokens(std::string_view text) const;

  struct Call {
    std::string prompt;
    std::int32_t max_tokens = 64;
    std::vector<std::string> stop;
    std::optional<std::chrono::steady_clock::time_point> deadline;
    // Sees the whole text received so far after each piece; false ends the request.
    std::function<bool(const std::string& text_so_far)> on_text;
  };
  struct Outcome {
    std::string text;           // everything received (also when stopped early)
    bool cancelled = false;     // the cancel token fired
    bool stopped = false;       // on_text returned false
    bool deadline_hit = false;
    std::string finish_reason;
    std::string failure;        // non-empty: the request failed (the message says why)
  };
  Outcome complete(const Call& call, const inference::engine::CancelToken& cancel);

  // An inline completion at `offset` of `doc`: context, prompt, streaming stop rules, time
  // budget and post-processing as the local engine path does. Failures give an empty text.
  // `observe`, when set, sees the raw text received so far after each piece (as the local
  // path's on_token does); false ends the request.
  struct CompletionRun {
    std::string text;
    bool cancelled = false;
    std::string failure;
    double ms = 0;
  };
  CompletionRun complete_inline(const context::Workspace& workspace, const context::Snapshot& doc,
                                std::uint32_t offset, const inference::engine::CancelToken& cancel,
                                const Settings& settings, const std::function<bool(const std::string&)>& observe = {});

 private:
  RemoteBackend() = default;
  void note_failure(const std::string& message);
  void note_success();

  RemoteBackendOptions options_;
  std::shared_ptr<const inference::Tokenizer> tokenizer_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<OpenAiClient> client_;
  FimSpelling spelling_;
  std::mutex mutex_;
  std::string model_id_;  // resolved once
  bool failing_ = false;  // a failure was reported and nothing succeeded since
  std::function<void(const std::string&)> report_;
};

struct LoadedModel;
struct ModelHostOptions;
// The LoadedModel of `--backend` (ModelHost calls it): engine null, `remote` set, the tokenizer
// of options.model when given (vocabulary only; null otherwise). `report` receives the message
// for the user when the backend starts failing.
Result<std::shared_ptr<LoadedModel>> load_remote_model(const ModelHostOptions& options,
                                                       std::shared_ptr<spdlog::logger> logger,
                                                       std::function<void(const std::string&)> report);

}  // namespace rapide::lsp
