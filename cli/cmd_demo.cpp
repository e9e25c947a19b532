// `rapide demo`: the language server end to end, in-process: opens a sample file, asks for an
// inline completion, a quick fix (code action + resolve) and a hover, and prints each answer with
// its time. Without --model it writes a small random-weight model first (its text is
// meaningless: the demo then shows the machinery, not the quality).
#include "commands.h"
#include "device_option.h"
#include "lsp_session.h"

#include "rapide/inference/make_model.h"
#include "rapide/lsp/logging.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <unistd.h>
#include <vector>

namespace rapide::cli {
namespace {

struct DemoArgs {
  std::string model;
  std::string vocab;  // for the generated model
  std::string chat_model;
  std::string log_level = "warn";
  int max_tokens = 24;
  std::string device = "auto";
};

constexpr const char* kSample = R"(import math


def mean(values):
    """Arithmetic mean of a non-empty list of numbers."""
    return sum(values) / len(values)


def stddev(values):
    m = mean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / len(values)


def normalize(values):
    s = stddev(values)
    return [(v - mean(values)) / s for v in values]


def clamp(x, low, high):
    
)";

double since_ms(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void print_block(const std::string& title, double ms, const std::string& body) {
  std::printf("\n== %s (%.0f ms)\n", title.c_str(), ms);
  std::printf("%s\n", body.c_str());
}

std::string error_text(const nlohmann::json& r) {
  return "error " + std::to_string(r.at("error").at("code").get<int>()) + ": " +
         r.at("error").at("message").get<std::string>();
}

int run_demo(const DemoArgs& a) {
  auto logger = lsp::make_logger("rapide", "", a.log_level);
  if (!logger) {
    std::fprintf(stderr, "rapide demo: %s\n", logger.message().c_str());
    return 2;
  }
  const auto dev = resolve_device(a.device);
  if (!dev) {
    std::fprintf(stderr, "rapide demo: %s\n", dev.message().c_str());
    return 1;
  }
  std::string model = a.model;
  std::filesystem::path generated;
  if (model.empty()) {
    // A tiny qwen2-shaped model with random weights and a real tokenizer (with FIM tokens).
    std::filesystem::path vocab = a.vocab;
    if (vocab.empty()) {
      std::vector<std::filesystem::path> candidates;
      if (const char* env = std::getenv("RAPIDE_SHARED_DIR"); env && *env) candidates.emplace_back(env);
      candidates.emplace_back("../shared");
      for (const auto& dir : candidates)
        if (std::filesystem::exists(dir / "vocab/ggml-vocab-qwen2.gguf")) {
          vocab = dir / "vocab/ggml-vocab-qwen2.gguf";
          break;
        }
    }
    if (vocab.empty() || !std::filesystem::exists(vocab)) {
      std::fprintf(stderr,
                   "rapide demo: no --model given, and no tokenizer to build a random model from: pass --model "
                   "FILE.gguf, or --vocab with a GGUF holding a tokenizer (looked for "
                   "$RAPIDE_SHARED_DIR/vocab/ggml-vocab-qwen2.gguf and ../shared/vocab/ggml-vocab-qwen2.gguf)\n");
      return 2;
    }
    inference::MakeModelOptions mo;
    auto dims = inference::preset_dims("tiny", "qwen2");
    if (!dims) {
      std::fprintf(stderr, "rapide demo: %s\n", dims.message().c_str());
      return 1;
    }
    mo.dims = *dims;
    mo.vocab = vocab;
    mo.seed = 42;
    generated = std::filesystem::temp_directory_path() / ("rapide-demo-" + std::to_string(::getpid()) + ".gguf");
    mo.output = generated;
    mo.name = "rapide-demo-random";
    auto made = inference::make_model(mo);
    if (!made) {
      std::fprintf(stderr, "rapide demo: generating the random model failed: %s\n", made.message().c_str());
      return 1;
    }
    model = generated.string();
    std::printf("rapide demo: no --model given: generated a tiny random-weight model (%llu parameters, tokenizer "
                "from %s).\nIts text is MEANINGLESS: this shows the machinery and its timings, not quality. Run "
                "`rapide demo --model your-model.gguf` for real answers.\n",
                static_cast<unsigned long long>(made->parameters), vocab.string().c_str());
  }
  struct Cleanup {
    std::filesystem::path p;
    ~Cleanup() {
      std::error_code ec;
      if (!p.empty()) std::filesystem::remove(p, ec);
    }
  } cleanup{generated};
  lsp::ServerOptions options;
  options.scheduler.worker_threads = 2;
  options.scheduler.debounce = lsp::DebouncePolicy::none();
  options.models.model = model;
  options.models.chat_model = a.chat_model;
  options.models.device = *dev;
  options.settings.maxTokens = a.max_tokens;
  options.settings.enable = {{"*", true}};
  options.prefetch = false;

  std::printf("rapide demo: language server in-process, model %s\n", model.c_str());
  auto t0 = std::chrono::steady_clock::now();
  LspSession session(options, *logger);
  auto init = session.request("initialize", {{"processId", nullptr},
                                             {"capabilities", {{"window", {{"workDoneProgress", true}}}}},
                                             {"clientInfo", {{"name", "rapide demo"}}}});
  session.notify("initialized", nlohmann::json::object());
  const auto status = session.wait_for_model();
  print_block("initialize + model load", since_ms(t0),
              "server " + init.at("result").at("serverInfo").dump() + "\nmodel state: " + status.dump());
  if (status.value("state", "") != "ready") return 1;

  const std::string uri = "file:///demo/stats.py";
  session.notify("textDocument/didOpen",
                 {{"textDocument", {{"uri", uri}, {"languageId", "python"}, {"version", 1}, {"text", kSample}}}});
  // Cursor at the end of the file, inside clamp().
  const int last_line = 19;
  t0 = std::chrono::steady_clock::now();
  auto inl = session.request("textDocument/inlineCompletion", {{"textDocument", {{"uri", uri}}},
                                                               {"position", {{"line", last_line}, {"character", 4}}},
                                                               {"context", {{"triggerKind", 1}}}});
  std::string body;
  if (inl.contains("error")) {
    body = error_text(inl);
  } else {
    const auto& items = inl.at("result").at("items");
    body = items.empty() ? "(no completion)" : "ghost text at 20:5:\n" + items.at(0).at("insertText").get<std::string>();
  }
  print_block("inline completion", since_ms(t0), body);

  // A diagnostic as a Python linter would report it: the missing ')' on line 11.
  const nlohmann::json diag = {{"range", {{"start", {{"line", 10}, {"character", 4}}}, {"end", {{"line", 10}, {"character", 70}}}}},
                               {"severity", 1},
                               {"source", "demo-linter"},
                               {"message", "'(' was never closed"}};
  t0 = std::chrono::steady_clock::now();
  auto actions = session.request("textDocument/codeAction", {{"textDocument", {{"uri", uri}}},
                                                             {"range", diag.at("range")},
                                                             {"context", {{"diagnostics", {diag}}, {"only", {"quickfix"}}}}});
  const double list_ms = since_ms(t0);
  if (actions.contains("error") || actions.at("result").empty()) {
    print_block("quick fix", list_ms, actions.contains("error") ? error_text(actions) : "(no action)");
  } else {
    t0 = std::chrono::steady_clock::now();
    auto resolved = session.request("codeAction/resolve", actions.at("result").at(0));
    const double resolve_ms = since_ms(t0);
    std::string fix = "action: " + actions.at("result").at(0).at("title").get<std::string>() + " (listed in " +
                      std::to_string(static_cast<int>(list_ms)) + " ms)\n";
    if (resolved.contains("error")) {
      fix += error_text(resolved);
    } else {
      const auto& r = resolved.at("result");
      fix += "title: " + r.at("title").get<std::string>() + "\nedit: " + r.at("edit").dump(2) +
             "\nverified by tree-sitter: " + r.at("data").at("verified").dump();
    }
    print_block("quick fix (codeAction/resolve)", resolve_ms, fix);
  }

  t0 = std::chrono::steady_clock::now();
  auto hover = session.request("textDocument/hover",
                               {{"textDocument", {{"uri", uri}}}, {"position", {{"line", 3}, {"character", 5}}}});
  print_block("hover on mean()", since_ms(t0),
              hover.contains("error")     ? error_text(hover)
              : hover.at("result").is_null() ? "(no hover)"
                                             : hover.at("result").at("contents").at("value").get<std::string>());
  t0 = std::chrono::steady_clock::now();
  auto hover2 = session.request("textDocument/hover",
                                {{"textDocument", {{"uri", uri}}}, {"position", {{"line", 3}, {"character", 5}}}});
  print_block("hover again (cached per version and range)", since_ms(t0), hover2.contains("error") ? error_text(hover2) : "same answer");
  auto metrics = session.request("rapide/metrics", nullptr);
  print_block("rapide/metrics", 0, metrics.contains("result") ? metrics.at("result").dump(2) : metrics.dump());
  return 0;
}

}  // namespace

void register_demo(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<DemoArgs>();
  CLI::App* cmd = app.add_subcommand(
      "demo", "Run the language server in-process on a sample file: inline completion, quick fix, hover, with timings");
  cmd->add_option("--model", args->model, "GGUF model (default: a generated random model, meaningless text)");
  cmd->add_option("--vocab", args->vocab, "Tokenizer GGUF for the generated model (default: ../shared/vocab/ggml-vocab-qwen2.gguf)");
  cmd->add_option("--chat-model", args->chat_model, "Instruct GGUF model for the fix and the hover");
  add_device_option(*cmd, &args->device);
  cmd->add_option("--max-tokens", args->max_tokens, "Most tokens per completion")->check(CLI::Range(1, 4096));
  cmd->add_option("--log-level", args->log_level, "Log level on stderr");
  cmd->callback([args, exit_code] { *exit_code = run_demo(*args); });
}

}  // namespace rapide::cli
