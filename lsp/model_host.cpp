#include "rapide/lsp/model_host.h"

#include "rapide/inference/gguf.h"
#include "rapide/inference/model.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>

namespace rapide::lsp {
namespace {

using inference::engine::Engine;

struct Step {
  double from, to;
};

Result<std::shared_ptr<LoadedModel>> load_one(const std::string& path, const std::string& draft_path,
                                              const ModelHostOptions& o, const ModelHost::Listener& l, Step step,
                                              spdlog::logger& log) {
  auto report = [&](double f, const std::string& what) {
    if (l.on_progress) l.on_progress(step.from + (step.to - step.from) * f, what);
  };
  const std::string file = std::filesystem::path(path).filename().string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return error("model file '", path, "' does not exist");
  report(0.05, "reading " + file);
  auto gguf = inference::gguf::GgufFile::open(path);
  if (!gguf) return error("model '", path, "': ", gguf.message());
  std::shared_ptr<const inference::gguf::GgufFile> g = *gguf;
  report(0.2, "tokenizer of " + file);
  auto tok = inference::Tokenizer::from_gguf(*g);
  if (!tok) return error("model '", path, "': tokenizer: ", tok.message());
  report(0.35, "weights of " + file);
  inference::LoadOptions lo;
  lo.n_threads = o.n_threads;
  lo.device = o.device;  // "auto" is resolved by Model::load (cuda:0 when present and the model fits)
  auto model = inference::Model::load(g, lo);
  if (!model) return error("model '", path, "': ", model.message());
  log.info("model {}: {}", path, (*model)->device_note());
  std::unique_ptr<inference::Model> draft;
  if (!draft_path.empty()) {
    report(0.6, "draft model " + std::filesystem::path(draft_path).filename().string());
    auto dg = inference::gguf::GgufFile::open(draft_path);
    if (!dg) return error("draft model '", draft_path, "': ", dg.message());
    auto dm = inference::Model::load(*dg, lo);
    if (!dm) return error("draft model '", draft_path, "': ", dm.message());
    draft = std::move(*dm);
  }
  report(0.85, "starting the engine");
  Engine::Options eo;
  eo.n_ctx = o.n_ctx;
  auto engine = Engine::create(std::move(*model), *tok, eo, std::move(draft));
  if (!engine) return error("model '", path, "': engine: ", engine.message());
  auto m = std::make_shared<LoadedModel>();
  m->path = path;
  m->name = std::string(g->get_string("general.name").value_or(file));
  m->tokenizer = *tok;
  m->engine = std::move(*engine);
  m->chat_format = detect_chat_format(g->get_string("tokenizer.chat_template").value_or(""));
  m->has_fim = (*tok)->fim_pre() >= 0 && (*tok)->fim_suf() >= 0 && (*tok)->fim_mid() >= 0;
  m->has_draft = !draft_path.empty();
  m->speculation = o.speculation == inference::engine::Speculation::DRAFT && !m->has_draft
                       ? inference::engine::Speculation::NGRAM
                       : o.speculation;
  log.info("model {} loaded: chat format {}, FIM {}", path, chat_format_name(m->chat_format),
           m->has_fim ? "yes" : "no (prefix-only completion)");
  report(1.0, file + " ready");
  return m;
}

// Models shared by the ModelHosts of one process (share_models_in_process), keyed by file and
// settings. The mutex is held during a load, so a second session waits and then reuses.
struct SharedModels {
  std::mutex mutex;
  bool enabled = false;
  std::map<std::string, std::shared_ptr<LoadedModel>> models;
};

SharedModels& shared_models() {
  static SharedModels s;
  return s;
}

Result<std::shared_ptr<LoadedModel>> load_shared(const std::string& path, const std::string& draft_path,
                                                 const ModelHostOptions& o, const ModelHost::Listener& l, Step step,
                                                 spdlog::logger& log) {
  SharedModels& shared = shared_models();
  std::unique_lock lock(shared.mutex);
  if (!shared.enabled) {
    lock.unlock();
    return load_one(path, draft_path, o, l, step, log);
  }
  const std::string key = path + '\n' + draft_path + '\n' + o.device + '\n' +
                          std::to_string(static_cast<int>(o.speculation)) + '\n' + std::to_string(o.n_threads) +
                          '\n' + std::to_string(o.n_ctx);
  if (auto it = shared.models.find(key); it != shared.models.end()) {
    log.info("model {} already loaded in this process: shared", path);
    if (l.on_progress) l.on_progress(step.to, std::filesystem::path(path).filename().string() + " ready (shared)");
    return it->second;
  }
  auto m = load_one(path, draft_path, o, l, step, log);
  if (m) shared.models[key] = *m;
  return m;
}

}  // namespace

void ModelHost::share_models_in_process() {
  std::lock_guard lock(shared_models().mutex);
  shared_models().enabled = true;
}

namespace {
std::atomic<int> g_loads_abandoned{0};
}  // namespace

int ModelHost::loads_abandoned() { return g_loads_abandoned.load(); }

struct ModelHost::State {
  mutable std::mutex mutex;  // guards status, completion, chat
  ModelStatus status;
  std::shared_ptr<LoadedModel> completion;
  std::shared_ptr<LoadedModel> chat;
  // Held while a listener callback runs; `listener_closed` (set by the destructor under it)
  // silences the listener for good: the server it points at is going away.
  std::mutex listener_mutex;
  bool listener_closed = false;
  std::atomic<bool> loader_finished{false};
};

ModelHost::ModelHost(std::shared_ptr<spdlog::logger> logger)
    : log_(std::move(logger)), state_(std::make_shared<State>()) {}

ModelHost::~ModelHost() {
  {
    // No listener call from now on: neither the loader's nor a remote backend's later report.
    std::lock_guard lock(state_->listener_mutex);
    state_->listener_closed = true;
  }
  if (!loader_.joinable()) return;
  if (state_->loader_finished.load()) {
    loader_.join();
    return;
  }
  g_loads_abandoned.fetch_add(1);
  log_->warn("model load abandoned: the server stops while {} is still loading", status().path);
  loader_.detach();
}

ModelStatus ModelHost::status() const {
  std::lock_guard lock(state_->mutex);
  return state_->status;
}

std::shared_ptr<LoadedModel> ModelHost::completion() const {
  std::lock_guard lock(state_->mutex);
  return state_->completion;
}

std::shared_ptr<LoadedModel> ModelHost::chat() const {
  std::lock_guard lock(state_->mutex);
  return state_->chat ? state_->chat : state_->completion;
}

void ModelHost::load_async(ModelHostOptions options, Listener listener) {
  if (options.model.empty() && options.backend.url.empty()) {
    std::lock_guard lock(state_->mutex);
    state_->status = ModelStatus{};
    state_->status.message = "no model given: start the server with --model FILE.gguf";
    return;
  }
  {
    std::lock_guard lock(state_->mutex);
    state_->status.state = ModelStatus::State::loading;
    state_->status.path = options.model;
    state_->status.device = !options.backend.url.empty() ? "remote" : options.device == "auto" ? "cpu" : options.device;
  }
  // The thread owns copies of everything it touches (state, logger, options): it may outlive
  // this host. Each listener call goes through the gate so that none starts once the host is gone.
  // The gate holds the state weakly: a remote backend keeps its message listener for as long as
  // the loaded model lives, and the state owns that model, so a strong reference here would be a
  // cycle that never frees either (LeakSanitizer found it). While loading, the thread below holds
  // the state; afterwards the host does, and a report after the host is gone is dropped.
  auto state = state_;
  auto gate = [weak = std::weak_ptr<State>(state_)](auto fn) {
    return [weak, fn = std::move(fn)](auto&&... args) {
      const std::shared_ptr<State> s = weak.lock();
      if (!s) return;
      std::lock_guard lock(s->listener_mutex);
      if (!s->listener_closed && fn) fn(std::forward<decltype(args)>(args)...);
    };
  };
  Listener gated;
  if (listener.on_progress) gated.on_progress = gate(std::move(listener.on_progress));
  if (listener.on_done) gated.on_done = gate(std::move(listener.on_done));
  if (listener.on_message) gated.on_message = gate(std::move(listener.on_message));
  loader_ = std::thread([state, log = log_, options = std::move(options), gated = std::move(gated)] {
    load_into(*state, log, options, gated);
    state->loader_finished.store(true);
  });
}

ModelStatus ModelHost::load(const ModelHostOptions& options, const Listener& listener) {
  return load_into(*state_, log_, options, listener);
}

ModelStatus ModelHost::load_into(State& state, const std::shared_ptr<spdlog::logger>& logger,
                                 const ModelHostOptions& options, const Listener& listener) {
  spdlog::logger& log = *logger;
  auto current = [&state] {
    std::lock_guard lock(state.mutex);
    return state.status;
  };
  if (options.model.empty() && options.backend.url.empty()) return current();
  Listener wrapped = listener;
  wrapped.on_progress = [&state, &listener](double f, const std::string& what) {
    {
      std::lock_guard lock(state.mutex);
      state.status.state = ModelStatus::State::loading;
      state.status.load_progress = f;
      state.status.message = what;
    }
    if (listener.on_progress) listener.on_progress(f, what);
  };
  {
    std::lock_guard lock(state.mutex);
    state.status.path = options.model;
    state.status.device = !options.backend.url.empty() ? "remote" : options.device == "auto" ? "cpu" : options.device;
  }
  if (!options.backend.url.empty()) {
    std::function<void(const std::string&)> report;
    if (listener.on_message) report = [on_message = listener.on_message](const std::string& m) { on_message(2, m); };
    auto remote = load_remote_model(options, logger, std::move(report));
    ModelStatus final_status;
    {
      std::lock_guard lock(state.mutex);
      if (!remote) {
        state.status.state = ModelStatus::State::failed;
        state.status.message = remote.message();
        log.error("{}", state.status.message);
      } else {
        state.completion = *remote;
        state.chat.reset();
        state.status.path = (*remote)->path;
        state.status.state = ModelStatus::State::ready;
        state.status.message.clear();
        state.status.load_progress = 1.0;
      }
      final_status = state.status;
    }
    if (listener.on_done) listener.on_done(final_status);
    return final_status;
  }
  const bool two = !options.chat_model.empty();
  auto main = load_shared(options.model, options.speculation == inference::engine::Speculation::DRAFT ? options.draft_model : "",
                       options, wrapped, {0.0, two ? 0.6 : 1.0}, log);
  Result<std::shared_ptr<LoadedModel>> chat = std::shared_ptr<LoadedModel>();
  if (main && two) chat = load_shared(options.chat_model, "", options, wrapped, {0.6, 1.0}, log);
  ModelStatus final_status;
  {
    std::lock_guard lock(state.mutex);
    if (!main || !chat) {
      state.status.state = ModelStatus::State::failed;
      state.status.message = !main ? main.message() : chat.message();
      log.error("{}", state.status.message);
    } else {
      state.completion = *main;
      state.chat = *chat;
      state.status.state = ModelStatus::State::ready;
      state.status.message.clear();
      state.status.load_progress = 1.0;
    }
    final_status = state.status;
  }
  if (listener.on_done) listener.on_done(final_status);
  return final_status;
}

}  // namespace rapide::lsp
