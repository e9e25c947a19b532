// `rapide complete --model F FILE:LINE:COL`: one inline completion, printed to stdout. Runs the
// real server in-process (the same code path as an editor's request).
#include "commands.h"
#include "device_option.h"
#include "lsp_session.h"

#include "rapide/context/languages.h"
#include "rapide/lsp/logging.h"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace rapide::cli {
namespace {

struct CompleteArgs {
  std::string model;
  std::string draft_model;
  std::string where;
  std::string device = "auto";
  std::string speculate = "ngram";
  int max_tokens = 64;
  std::string log_level = "warn";
  bool json = false;
  std::string backend;
  std::string api_key_env = "RAPIDE_API_KEY";
  std::string fim_format = "qwen";
};

// "path:LINE:COL" (1-based) -> (path, line0, col0).
bool parse_where(const std::string& s, std::string& path, std::uint32_t& line, std::uint32_t& col, std::string& why) {
  const auto c2 = s.rfind(':');
  const auto c1 = c2 == std::string::npos || c2 == 0 ? std::string::npos : s.rfind(':', c2 - 1);
  if (c1 == std::string::npos) {
    why = "'" + s + "': expected FILE:LINE:COL (1-based)";
    return false;
  }
  auto num = [](std::string_view t, std::uint32_t& out) {
    const auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
    return ec == std::errc{} && p == t.data() + t.size() && out >= 1;
  };
  path = s.substr(0, c1);
  if (!num(std::string_view(s).substr(c1 + 1, c2 - c1 - 1), line) || !num(std::string_view(s).substr(c2 + 1), col)) {
    why = "'" + s + "': LINE and COL must be numbers >= 1";
    return false;
  }
  --line;
  --col;
  return true;
}

int run_complete(const CompleteArgs& a) {
  std::string path, why;
  std::uint32_t line = 0, col = 0;
  if (!parse_where(a.where, path, line, col, why)) {
    std::fprintf(stderr, "rapide complete: %s\n", why.c_str());
    return 2;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "rapide complete: cannot read '%s'\n", path.c_str());
    return 2;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  auto logger = lsp::make_logger("rapide", "", a.log_level);
  if (!logger) {
    std::fprintf(stderr, "rapide complete: %s\n", logger.message().c_str());
    return 2;
  }
  lsp::ServerOptions options;
  options.scheduler.worker_threads = 1;
  options.scheduler.debounce = lsp::DebouncePolicy::none();
  options.prefetch = false;
  options.models.model = a.model;
  options.models.draft_model = a.draft_model;
  const auto dev = resolve_device(a.device);
  if (!dev) {
    std::fprintf(stderr, "rapide complete: %s\n", dev.message().c_str());
    return 2;
  }
  options.models.device = *dev;
  options.models.speculation = a.speculate == "none"    ? inference::engine::Speculation::NONE
                               : a.speculate == "draft" ? inference::engine::Speculation::DRAFT
                                                        : inference::engine::Speculation::NGRAM;
  if (a.model.empty() && a.backend.empty()) {
    std::fprintf(stderr, "rapide complete: give --model FILE.gguf or --backend URL\n");
    return 2;
  }
  if (!a.backend.empty()) {
    options.models.backend.url = a.backend;
    if (const char* key = std::getenv(a.api_key_env.c_str()); key && *key) options.models.backend.api_key = key;
    options.models.backend.fim_format = a.fim_format;
  }
  options.settings.maxTokens = a.max_tokens;
  options.settings.enable = {{"*", true}};
  LspSession session(options, *logger);
  const nlohmann::json caps = {{"general", {{"positionEncodings", {"utf-8"}}}}};
  auto init = session.request("initialize", {{"processId", nullptr}, {"capabilities", caps}});
  if (init.contains("error")) {
    std::fprintf(stderr, "rapide complete: %s\n", init.at("error").dump().c_str());
    return 1;
  }
  session.notify("initialized", nlohmann::json::object());
  const auto status = session.wait_for_model();
  if (status.value("state", "") != "ready") {
    std::fprintf(stderr, "rapide complete: %s\n", status.value("message", status.dump()).c_str());
    return 1;
  }
  const std::string uri = "file://" + std::filesystem::absolute(path).string();
  const auto* lang = context::language_for_path(path);
  session.notify("textDocument/didOpen",
                 {{"textDocument",
                   {{"uri", uri}, {"languageId", lang ? std::string(lang->id) : "plaintext"}, {"version", 1}, {"text", text}}}});
  const auto t0 = std::chrono::steady_clock::now();
  auto r = session.request("textDocument/inlineCompletion",
                           {{"textDocument", {{"uri", uri}}},
                            {"position", {{"line", line}, {"character", col}}},
                            {"context", {{"triggerKind", 1}}}});
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (r.contains("error")) {
    std::fprintf(stderr, "rapide complete: %s\n", r.at("error").at("message").get<std::string>().c_str());
    return 1;
  }
  // A failing remote backend answers with no completion and tells the user once: say so here.
  for (const auto& n : session.notifications())
    if (n.value("method", "") == "window/showMessage" && n.contains("params") &&
        n.at("params").value("type", 4) <= 2 && !a.backend.empty()) {
      std::fprintf(stderr, "rapide complete: %s\n", n.at("params").value("message", "").c_str());
      return 1;
    }
  const auto& items = r.at("result").at("items");
  const std::string completion = items.empty() ? std::string() : items.at(0).at("insertText").get<std::string>();
  if (a.json) {
    std::fputs(nlohmann::json{{"completion", completion}, {"ms", ms}, {"model", status.value("model", "")}}.dump().c_str(),
               stdout);
    std::fputc('\n', stdout);
  } else {
    std::fputs(completion.c_str(), stdout);
    if (completion.empty() || completion.back() != '\n') std::fputc('\n', stdout);
    std::fprintf(stderr, "rapide complete: %.0f ms\n", ms);
  }
  return 0;
}

}  // namespace

void register_complete(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<CompleteArgs>();
  CLI::App* cmd = app.add_subcommand("complete", "Print one inline completion at FILE:LINE:COL (1-based)");
  cmd->add_option("--model", args->model, "GGUF model (with --backend: read for its tokenizer only)");
  cmd->add_option("--backend", args->backend, "OpenAI-compatible server to complete with, e.g. http://127.0.0.1:8080/v1");
  cmd->add_option("--api-key-env", args->api_key_env, "With --backend: environment variable holding the API key")
      ->capture_default_str();
  cmd->add_option("--fim-format", args->fim_format, "With --backend and no --model: qwen, starcoder, deepseek or none")
      ->check(CLI::IsMember({"qwen", "starcoder", "deepseek", "none"}));
  cmd->add_option("--draft-model", args->draft_model, "Draft GGUF model (with --speculate draft)");
  add_device_option(*cmd, &args->device);
  cmd->add_option("--speculate", args->speculate, "none, ngram or draft")->check(CLI::IsMember({"none", "ngram", "draft"}));
  cmd->add_option("--max-tokens", args->max_tokens, "Most tokens to generate")->check(CLI::Range(1, 4096));
  cmd->add_option("--log-level", args->log_level, "Log level on stderr");
  cmd->add_flag("--json", args->json, "Print {completion, ms, model} as JSON");
  cmd->add_option("where", args->where, "FILE:LINE:COL, 1-based as compilers print them")->required();
  cmd->callback([args, exit_code] { *exit_code = run_complete(*args); });
}

}  // namespace rapide::cli
