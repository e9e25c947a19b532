// RemoteBackend: see rapide/lsp/remote_backend.h.
#include "rapide/lsp/remote_backend.h"

#include "rapide/context/postprocess.h"
#include "rapide/inference/gguf.h"
#include "rapide/lsp/http_client.h"
#include "rapide/lsp/model_host.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

namespace rapide::lsp {

using Clock = std::chrono::steady_clock;

Result<FimSpelling> fim_spelling_named(std::string_view name) {
  if (name == "qwen")
    return FimSpelling{"<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|repo_name|>", "<|file_sep|>", true};
  if (name == "starcoder")
    return FimSpelling{"<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<repo_name>", "<file_sep>", false};
  if (name == "deepseek")
    return FimSpelling{"<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "hole\xef\xbd\x9c>",
                       "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>", "", "", false};
  if (name == "none") return FimSpelling{};
  return error("FIM format '", name, "' is unknown; expected qwen, starcoder, deepseek or none");
}

FimSpelling fim_spelling_of(const inference::Tokenizer& tok) {
  FimSpelling s;
  if (tok.fim_pre() < 0 || tok.fim_suf() < 0 || tok.fim_mid() < 0) return s;
  s.prefix = tok.token_to_piece(tok.fim_pre());
  s.suffix = tok.token_to_piece(tok.fim_suf());
  s.middle = tok.token_to_piece(tok.fim_mid());
  // The same choice as FimTemplate::from_tokenizer (inference/engine/fim.cpp).
  if (tok.find_token("<|repo_name|>") >= 0 && tok.find_token("<|file_sep|>") >= 0) {
    s.repo_name = "<|repo_name|>";
    s.file_sep = "<|file_sep|>";
    s.qwen_repo = true;
  } else if (tok.find_token("<repo_name>") >= 0 && tok.find_token("<file_sep>") >= 0) {
    s.repo_name = "<repo_name>";
    s.file_sep = "<file_sep>";
  }
  return s;
}

Result<std::shared_ptr<RemoteBackend>> RemoteBackend::create(RemoteBackendOptions options,
                                                             std::shared_ptr<const inference::Tokenizer> tokenizer,
                                                             std::shared_ptr<spdlog::logger> logger) {
  std::shared_ptr<RemoteBackend> b(new RemoteBackend());
  OpenAiClientOptions co;
  co.connect_timeout = options.connect_timeout;
  co.response_timeout = options.response_timeout;
  auto client = OpenAiClient::create(options.url, options.api_key, co);
  if (!client) return client.error();
  b->client_ = std::move(*client);
  if (tokenizer) {
    b->spelling_ = fim_spelling_of(*tokenizer);
  } else {
    auto s = fim_spelling_named(options.fim_format);
    if (!s) return s.error();
    b->spelling_ = *s;
  }
  b->options_ = std::move(options);
  b->options_.url = b->client_->base_url();
  b->tokenizer_ = std::move(tokenizer);
  b->log_ = std::move(logger);
  b->model_id_ = b->options_.model;
  return b;
}

RemoteBackend::~RemoteBackend() = default;

void RemoteBackend::set_failure_reporter(std::function<void(const std::string&)> report) {
  std::lock_guard lock(mutex_);
  report_ = std::move(report);
}

void RemoteBackend::note_failure(const std::string& message) {
  std::function<void(const std::string&)> report;
  {
    std::lock_guard lock(mutex_);
    log_->warn("remote backend: {}", message);
    if (failing_) return;
    failing_ = true;
    report = report_;
  }
  if (report)
    report("rapide: the completion backend " + options_.url + " failed: " + message +
           ". Completions stay empty until it answers again.");
}

void RemoteBackend::note_success() {
  std::lock_guard lock(mutex_);
  if (failing_) log_->info("remote backend {} answers again", options_.url);
  failing_ = false;
}

std::string RemoteBackend::render_prompt(const context::CompletionContext& ctx) const {
  // Mirrors build_completion_prompt (completion_prompt.cpp) and FimTemplate::build (PSM); every
  // text run sits between two control tokens there, so the server's tokenization of this string
  // gives the same ids. BOS is the server's to add.
  const std::string comment = ctx.comment_prefix.empty() ? std::string("//") : ctx.comment_prefix;
  auto cross_file_comments = [&] {
    std::string out;
    for (const auto& item : ctx.cross_file) {
      out += comment + " " + item.path + "\n" + item.text;
      if (!item.text.empty() && item.text.back() != '\n') out += '\n';
    }
    return out;
  };
  const FimSpelling& f = spelling_;
  if (!f.fim()) return cross_file_comments() + ctx.prefix;
  std::string out;
  if (f.repo_level()) {
    out += f.repo_name + (f.qwen_repo ? "repo\n" : "repo");  // FimInput's default repository name
    for (const auto& item : ctx.cross_file) {
      out += f.file_sep;
      std::string chunk = item.path + "\n" + item.text;
      if (f.qwen_repo && chunk.back() != '\n') chunk += '\n';
      out += chunk;
    }
    if (!ctx.path.empty() || !ctx.cross_file.empty()) {
      out += f.file_sep;
      out += ctx.path + "\n";
    }
    out += f.prefix + ctx.prefix;
  } else {
    out += f.prefix + cross_file_comments() + ctx.prefix;
  }
  out += f.suffix + ctx.suffix + f.middle;
  return out;
}

int RemoteBackend::count_tokens(std::string_view text) const {
  if (tokenizer_) return static_cast<int>(tokenizer_->encode(text, false, false).size());
  return static_cast<int>((text.size() + 2) / 3);
}

RemoteBackend::Outcome RemoteBackend::complete(const Call& call, const inference::engine::CancelToken& cancel) {
  Outcome out;
  std::string model;
  {
    std::lock_guard lock(mutex_);
    model = model_id_;
  }
  if (model.empty()) {
    auto ids = client_->models(cancel, call.deadline);
    if (!ids || ids->empty()) {
      if (cancel.cancelled()) {
        out.cancelled = true;
        return out;
      }
      out.failure = !ids ? ids.message() : "GET " + options_.url + "/models lists no model";
      note_failure(out.failure);
      return out;
    }
    model = ids->front();
    std::lock_guard lock(mutex_);
    model_id_ = model;
  }
  RemoteCompletionRequest r;
  r.model = model;
  r.prompt = call.prompt;
  r.max_tokens = call.max_tokens;
  r.temperature = 0.0f;  // greedy, as the local engine's completions
  r.top_p = 1.0f;
  r.stop = call.stop;
  r.stream = true;
  r.deadline = call.deadline;
  std::string so_far;
  auto res = client_->complete(
      r,
      [&](std::string_view piece) {
        so_far.append(piece);
        if (call.on_text && !call.on_text(so_far)) {
          out.stopped = true;
          return false;
        }
        return true;
      },
      cancel);
  out.text = std::move(so_far);
  if (cancel.cancelled()) {
    out.cancelled = true;
    return out;
  }
  if (!res) {
    out.failure = res.message();
    note_failure(out.failure);
    return out;
  }
  note_success();
  out.deadline_hit = res->deadline_hit;
  out.finish_reason = res->finish_reason;
  return out;
}

RemoteBackend::CompletionRun RemoteBackend::complete_inline(const context::Workspace& workspace,
                                                            const context::Snapshot& doc, std::uint32_t offset,
                                                            const inference::engine::CancelToken& cancel,
                                                            const Settings& settings,
                                                            const std::function<bool(const std::string&)>& observe) {
  // The same steps as Assistant::run_completion on a local engine.
  const auto t0 = Clock::now();
  CompletionRun run;
  context::ContextOptions co;
  co.budget_tokens = std::max(64, std::min(1536, options_.n_ctx - settings.maxTokens - 8));
  co.count_tokens = [this](std::string_view s) { return count_tokens(s); };
  const context::CompletionContext ctx = context::build_completion_context(workspace, doc, offset, co);
  Call call;
  call.prompt = render_prompt(ctx);
  call.max_tokens = settings.maxTokens;
  const auto budget = std::chrono::milliseconds(settings.inlineBudgetMs);
  call.deadline = t0 + 3 * budget;  // hard bound; the soft budget below ends at a newline
  context::StreamingStopper stopper(doc, offset);
  bool budget_stop = false;
  std::size_t seen = 0;
  call.on_text = [&](const std::string& so_far) {
    const bool newline = so_far.find('\n', seen) != std::string::npos;
    seen = so_far.size();
    if (observe && !observe(so_far)) return false;
    if (stopper.feed(so_far)) return false;
    if (Clock::now() - t0 > budget && newline) {
      budget_stop = true;
      return false;
    }
    return true;
  };
  Outcome o = complete(call, cancel);
  run.ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (o.cancelled) {
    run.cancelled = true;
    return run;
  }
  if (!o.failure.empty()) {
    run.failure = std::move(o.failure);
    return run;
  }
  std::string text = std::move(o.text);
  if (stopper.should_stop()) text.resize(std::min(text.size(), stopper.keep_bytes()));
  if (budget_stop) {
    const auto nl = text.rfind('\n');
    if (nl != std::string::npos) text.resize(nl);
  }
  run.text = context::postprocess_completion(doc, offset, text).text;
  log_->debug("remote completion: {} bytes of prompt, {} bytes back, {:.0f} ms, finish {}", call.prompt.size(),
              run.text.size(), run.ms, o.deadline_hit ? "deadline" : o.stopped ? "stop rule" : o.finish_reason);
  return run;
}

Result<std::shared_ptr<LoadedModel>> load_remote_model(const ModelHostOptions& options,
                                                       std::shared_ptr<spdlog::logger> logger,
                                                       std::function<void(const std::string&)> report) {
  std::shared_ptr<const inference::Tokenizer> tokenizer;
  std::string chat_template;
  if (!options.model.empty()) {
    // Only the vocabulary: the prompt is laid out with the model's own control tokens.
    auto g = inference::gguf::GgufFile::open(options.model);
    if (!g) return error("--model '", options.model, "' (read for its tokenizer with --backend): ", g.message());
    auto tok = inference::Tokenizer::from_gguf(**g);
    if (!tok) return error("--model '", options.model, "' (read for its tokenizer with --backend): ", tok.message());
    tokenizer = *tok;
    chat_template = std::string((*g)->get_string("tokenizer.chat_template").value_or(""));
  }
  auto backend = RemoteBackend::create(options.backend, tokenizer, logger);
  if (!backend) return backend.error();
  (*backend)->set_failure_reporter(std::move(report));
  auto m = std::make_shared<LoadedModel>();
  m->path = (*backend)->url();
  m->name = options.backend.model.empty() ? (*backend)->url() : options.backend.model;
  m->tokenizer = tokenizer;
  m->chat_format = detect_chat_format(chat_template);
  m->has_fim = (*backend)->spelling().fim();
  m->remote = *backend;
  logger->info("remote backend {}: prompts laid out with {} ({}), chat format {}", m->path,
               tokenizer ? "the tokenizer of " + options.model : "the '" + options.backend.fim_format + "' FIM format",
               m->has_fim ? "fill-in-the-middle" : "prefix only", chat_format_name(m->chat_format));
  return m;
}

}  // namespace rapide::lsp
