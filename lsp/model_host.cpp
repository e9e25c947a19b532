#include "rapide/lsp/model_host.h"

#include "rapide/inference/gguf.h"
#include "rapide/inference/model.h"

#include <spdlog/spdlog.h>

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
  lo.device = o.device == "auto" ? "cpu" : o.device;
  auto model = inference::Model::load(g, lo);
  if (!model) return error("model '", path, "': ", model.message());
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

ModelHost::ModelHost(std::shared_ptr<spdlog::logger> logger) : log_(std::move(logger)) {}

ModelHost::~ModelHost() {
  if (loader_.joinable()) loader_.join();
}

ModelStatus ModelHost::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

std::shared_ptr<LoadedModel> ModelHost::completion() const {
  std::lock_guard lock(mutex_);
  return completion_;
}

std::shared_ptr<LoadedModel> ModelHost::chat() const {
  std::lock_guard lock(mutex_);
  return chat_ ? chat_ : completion_;
}

void ModelHost::load_async(ModelHostOptions options, Listener listener) {
  if (options.model.empty() && options.backend.url.empty()) {
    std::lock_guard lock(mutex_);
    status_ = ModelStatus{};
    status_.message = "no model given: start the server with --model FILE.gguf";
    return;
  }
  {
    std::lock_guard lock(mutex_);
    status_.state = ModelStatus::State::loading;
    status_.path = options.model;
    status_.device = !options.backend.url.empty() ? "remote" : options.device == "auto" ? "cpu" : options.device;
  }
  loader_ = std::thread([this, options = std::move(options), listener = std::move(listener)] { load(options, listener); });
}

ModelStatus ModelHost::load(const ModelHostOptions& options, const Listener& listener) {
  if (options.model.empty() && options.backend.url.empty()) return status();
  Listener wrapped = listener;
  wrapped.on_progress = [this, &listener](double f, const std::string& what) {
    {
      std::lock_guard lock(mutex_);
      status_.state = ModelStatus::State::loading;
      status_.load_progress = f;
      status_.message = what;
    }
    if (listener.on_progress) listener.on_progress(f, what);
  };
  {
    std::lock_guard lock(mutex_);
    status_.path = options.model;
    status_.device = !options.backend.url.empty() ? "remote" : options.device == "auto" ? "cpu" : options.device;
  }
  if (!options.backend.url.empty()) {
    std::function<void(const std::string&)> report;
    if (listener.on_message) report = [on_message = listener.on_message](const std::string& m) { on_message(2, m); };
    auto remote = load_remote_model(options, log_, std::move(report));
    ModelStatus final_status;
    {
      std::lock_guard lock(mutex_);
      if (!remote) {
        status_.state = ModelStatus::State::failed;
        status_.message = remote.message();
        log_->error("{}", status_.message);
      } else {
        completion_ = *remote;
        chat_.reset();
        status_.path = (*remote)->path;
        status_.state = ModelStatus::State::ready;
        status_.message.clear();
        status_.load_progress = 1.0;
      }
      final_status = status_;
    }
    if (listener.on_done) listener.on_done(final_status);
    return final_status;
  }
  const bool two = !options.chat_model.empty();
  auto main = load_shared(options.model, options.speculation == inference::engine::Speculation::DRAFT ? options.draft_model : "",
                       options, wrapped, {0.0, two ? 0.6 : 1.0}, *log_);
  Result<std::shared_ptr<LoadedModel>> chat = std::shared_ptr<LoadedModel>();
  if (main && two) chat = load_shared(options.chat_model, "", options, wrapped, {0.6, 1.0}, *log_);
  ModelStatus final_status;
  {
    std::lock_guard lock(mutex_);
    if (!main || !chat) {
      status_.state = ModelStatus::State::failed;
      status_.message = !main ? main.message() : chat.message();
      log_->error("{}", status_.message);
    } else {
      completion_ = *main;
      chat_ = *chat;
      status_.state = ModelStatus::State::ready;
      status_.message.clear();
      status_.load_progress = 1.0;
    }
    final_status = status_;
  }
  if (listener.on_done) listener.on_done(final_status);
  return final_status;
}

}  // namespace rapide::lsp
