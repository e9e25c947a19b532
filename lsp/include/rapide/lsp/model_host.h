// The models behind the features: loads the completion model (and optional draft and chat
// models) on a background thread, reporting progress, and owns the Engines once loaded.
//
// States (ModelStatus): no-model when no path was given, loading, ready, or error (missing or
// bad file: the message names the file and the reason). Features ask for `completion()` /
// `chat()`; both are null until ready. The server keeps serving in every state.
//
// Thread-safety: all members may be called from any thread. Engines are thread-safe (submit()).
//
// A load cannot be interrupted (a model file on a FIFO nobody writes blocks in open(); a huge
// file takes its time), and the server must still exit at once when the editor says so: the
// destructor then abandons the load instead of waiting for it. The loader thread is detached and
// keeps only its own shared state alive; the listener is never called again once the destructor
// has returned. An abandoned loader still runs when the process ends, so a process that saw
// loads_abandoned() > 0 should leave with std::_Exit after flushing its output.
#pragma once

#include "rapide/inference/engine/engine.h"
#include "rapide/inference/tokenizer.h"
#include "rapide/lsp/assistant.h"
#include "rapide/lsp/chat_format.h"
#include "rapide/lsp/remote_backend.h"

#include <spdlog/logger.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace rapide::lsp {

struct ModelHostOptions {
  std::string model;        // FIM / completion model
  std::string draft_model;  // optional, same vocabulary as model
  std::string chat_model;   // optional instruct model for fixes and explanations
  std::string device = "auto";
  inference::engine::Speculation speculation = inference::engine::Speculation::NGRAM;
  int n_threads = 0;        // 0: the backend's default
  std::int32_t n_ctx = 4096;
  // backend.url set: completions and chat prompts go to that OpenAI-compatible server
  // (remote_backend.h); `model`, when given, is then read for its tokenizer only.
  RemoteBackendOptions backend;
};

// One loaded model with what the features need to prompt it.
struct LoadedModel {
  std::string path;
  std::string name;  // general.name or the file name
  std::unique_ptr<inference::engine::Engine> engine;
  std::shared_ptr<const inference::Tokenizer> tokenizer;
  ChatFormat chat_format = ChatFormat::comment;
  bool has_fim = false;  // FIM prefix/suffix/middle tokens exist
  bool has_draft = false;
  inference::engine::Speculation speculation = inference::engine::Speculation::NONE;
  // A remote backend (--backend): engine is null, tokenizer may be null, requests go here.
  std::shared_ptr<RemoteBackend> remote;
};

class ModelHost {
 public:
  explicit ModelHost(std::shared_ptr<spdlog::logger> logger);
  ~ModelHost();  // joins a loader that has finished; abandons (detaches) one still loading
  ModelHost(const ModelHost&) = delete;
  ModelHost& operator=(const ModelHost&) = delete;

  struct Listener {
    std::function<void(double fraction, const std::string& what)> on_progress;
    std::function<void(const ModelStatus& final_status)> on_done;  // ready or error
    // A message for the user later on (the remote backend became unreachable), any thread.
    std::function<void(int type, const std::string& message)> on_message;
  };

  // Starts loading on a background thread (no-op, status no-model, when options.model is empty).
  void load_async(ModelHostOptions options, Listener listener);
  // Loads on the calling thread (CLI one-shot commands).
  ModelStatus load(const ModelHostOptions& options, const Listener& listener = {});

  // From now on the ModelHosts of this process share loaded models: one that asks for a model
  // (same file and settings) another has loaded gets the same LoadedModel, Engine included,
  // which stays loaded until the process ends (the shared daemon, one session per editor).
  static void share_models_in_process();
  // How many loads ModelHosts of this process abandoned (destroyed while loading).
  static int loads_abandoned();

  ModelStatus status() const;
  std::shared_ptr<LoadedModel> completion() const;  // null until ready
  std::shared_ptr<LoadedModel> chat() const;        // the chat model, else the completion model

 private:
  // What the host and its loader thread share (the thread outlives an abandoning host).
  struct State;
  static ModelStatus load_into(State& state, const std::shared_ptr<spdlog::logger>& logger,
                               const ModelHostOptions& options, const Listener& listener);

  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<State> state_;
  std::thread loader_;
};

}  // namespace rapide::lsp
