// `rapide serve`: the language server over stdio (default) or TCP.
#include "commands.h"
#include "shared_daemon.h"
#include "device_option.h"

#include "rapide/lsp/logging.h"
#include "rapide/lsp/model_host.h"
#include "rapide/lsp/server.h"
#include "rapide/lsp/transport.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

namespace rapide::cli {
namespace {

struct ServeArgs {
  std::string model;
  std::string draft_model;
  std::string chat_model;
  std::string device = "auto";
  std::string speculate = "ngram";
  std::string listen;
  std::string token_env = "RAPIDE_TOKEN";
  std::string log_file;
  std::string log_level = "info";
  std::string debounce = "adaptive";
  int workers = 2;
  std::string backend;
  std::string api_key_env = "RAPIDE_API_KEY";
  std::string backend_model;
  std::string fim_format = "qwen";
  int backend_timeout_ms = 30000;
  bool shared = false;
  std::string daemon_socket;
  int idle_exit_ms = 10000;
};

// The arguments a shared daemon needs to serve like this process would (paths made absolute:
// the daemon runs in /), in a fixed order: they also key the daemon.
std::vector<std::string> daemon_args(const ServeArgs& a) {
  auto absolute = [](const std::string& p) {
    return p.empty() ? p : std::filesystem::absolute(p).lexically_normal().string();
  };
  std::vector<std::string> v;
  auto add = [&](const char* flag, const std::string& value) {
    if (value.empty()) return;
    v.push_back(flag);
    v.push_back(value);
  };
  add("--model", absolute(a.model));
  add("--draft-model", absolute(a.draft_model));
  add("--chat-model", absolute(a.chat_model));
  add("--device", a.device);
  add("--speculate", a.speculate);
  add("--log-level", a.log_level);
  add("--debounce", a.debounce);
  add("--workers", std::to_string(a.workers));
  add("--backend", a.backend);
  add("--api-key-env", a.api_key_env);
  add("--backend-model", a.backend_model);
  add("--fim-format", a.fim_format);
  add("--backend-timeout-ms", std::to_string(a.backend_timeout_ms));
  add("--idle-exit-ms", std::to_string(a.idle_exit_ms));
  return v;
}

// The process's exit code, after the server is gone. A model load the server abandoned (exit
// while the model was still loading: a FIFO nobody writes, a huge file) still runs on a
// detached thread; a normal return would run static destructors under it, so the process
// leaves with _Exit once the log is flushed (protocol output is written unbuffered).
int leave(int exit_code, const std::shared_ptr<spdlog::logger>& logger) {
  if (lsp::ModelHost::loads_abandoned() == 0) return exit_code;
  logger->flush();
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(exit_code);
}

int run_serve(const ServeArgs& a) {
  if (a.shared) {
    if (!a.listen.empty() || !a.daemon_socket.empty()) {
      std::fprintf(stderr, "rapide serve: --shared relays stdio to the shared daemon; it cannot be combined with "
                           "--listen or --daemon\n");
      return 2;
    }
    std::vector<std::string> args = daemon_args(a);
    // Sessions with another API key get another daemon (the key itself is not written anywhere).
    std::vector<std::string> key = args;
    if (const char* k = std::getenv(a.api_key_env.c_str()); k && !a.backend.empty()) key.push_back(k);
    return run_shared_client(args, key);
  }
  auto logger = lsp::make_logger("rapide", a.log_file, a.log_level);
  if (!logger) {
    std::fprintf(stderr, "rapide serve: %s\n", logger.message().c_str());
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);  // a vanished client is a closed transport, not a crash
  const auto device = resolve_device(a.device);
  if (!device) {
    std::fprintf(stderr, "rapide serve: %s\n", device.message().c_str());
    return 1;
  }

  lsp::ServerOptions options;
  options.scheduler.worker_threads = a.workers;
  options.models.model = a.model;
  options.models.draft_model = a.draft_model;
  options.models.chat_model = a.chat_model;
  options.models.device = *device;
  options.models.speculation = a.speculate == "none"    ? inference::engine::Speculation::NONE
                               : a.speculate == "draft" ? inference::engine::Speculation::DRAFT
                                                        : inference::engine::Speculation::NGRAM;
  if (a.speculate == "draft" && a.draft_model.empty()) {
    std::fprintf(stderr, "rapide serve: --speculate draft needs --draft-model FILE\n");
    return 2;
  }
  if (!a.backend.empty()) {
    options.models.backend.url = a.backend;
    if (const char* key = std::getenv(a.api_key_env.c_str()); key && *key) options.models.backend.api_key = key;
    options.models.backend.model = a.backend_model;
    options.models.backend.fim_format = a.fim_format;
    options.models.backend.response_timeout = std::chrono::milliseconds(a.backend_timeout_ms);
  }
  if (a.debounce == "adaptive") {
    options.scheduler.debounce = lsp::DebouncePolicy::adaptive();
  } else if (a.debounce == "none") {
    options.scheduler.debounce = lsp::DebouncePolicy::none();
  } else {
    char* end = nullptr;
    const long ms = std::strtol(a.debounce.c_str(), &end, 10);
    if (a.debounce.empty() || *end != '\0' || ms < 0 || ms > 10000) {
      std::fprintf(stderr, "rapide serve: --debounce '%s': expected adaptive, none or milliseconds 0..10000\n",
                   a.debounce.c_str());
      return 2;
    }
    options.scheduler.debounce = lsp::DebouncePolicy::fixed(std::chrono::milliseconds(ms));
  }

  if (!a.daemon_socket.empty())
    return leave(run_daemon(a.daemon_socket, options, *logger, std::chrono::milliseconds(a.idle_exit_ms)), *logger);

  lsp::EventLoop loop;
  std::unique_ptr<lsp::Transport> transport;
  if (a.listen.empty()) {
    transport = lsp::make_stdio_transport(loop);
  } else {
    auto addr = lsp::parse_listen_address(a.listen);
    if (!addr) {
      std::fprintf(stderr, "rapide serve: %s\n", addr.message().c_str());
      return 2;
    }
    lsp::TcpOptions tcp;
    tcp.host = addr->first;
    tcp.port = addr->second;
    if (const char* t = std::getenv(a.token_env.c_str()); t && *t) tcp.token = t;
    auto log = *logger;
    tcp.on_listening = [log](std::uint16_t port) {
      // The port is announced on stderr so scripts can connect when they asked for port 0.
      std::fprintf(stderr, "rapide serve: listening on port %u\n", static_cast<unsigned>(port));
      std::fflush(stderr);
      log->info("listening on port {}", port);
    };
    if (tcp.host != "127.0.0.1" && tcp.host != "::1" && tcp.host != "localhost")
      (*logger)->warn("listening on {} (not loopback): anyone who can reach it can use the server{}", tcp.host,
                      tcp.token.empty() ? "; set a token" : "");
    auto t = lsp::make_tcp_transport(loop, std::move(tcp));
    if (!t) {
      std::fprintf(stderr, "rapide serve: %s\n", t.message().c_str());
      return 2;
    }
    transport = std::move(*t);
  }

  int exit_code = 1;
  {
    lsp::LspServer server(loop, *transport, options, *logger);
    server.start([&](int code) {
      exit_code = code;
      loop.stop();
    });
    loop.run();
  }
  return leave(exit_code, *logger);
}

}  // namespace

void register_serve(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand("serve", "Run the language server (LSP over stdio, or TCP with --listen)");
  cmd->add_option("--model", args->model, "GGUF model for completions (FIM)");
  cmd->add_option("--draft-model", args->draft_model, "Small GGUF model for speculative decoding");
  cmd->add_option("--chat-model", args->chat_model, "Instruct GGUF model for fixes and explanations");
  cmd->add_option("--device", args->device,
                  "auto, cpu, cuda or cuda:N (a CUDA device index; needs a build with the CUDA backend)");
  cmd->add_option("--speculate", args->speculate, "Speculative decoding: none, ngram or draft")
      ->check(CLI::IsMember({"none", "ngram", "draft"}));
  cmd->add_option("--listen", args->listen, "Serve over TCP at HOST:PORT (e.g. 127.0.0.1:7777) instead of stdio");
  cmd->add_option("--token-env", args->token_env,
                  "Environment variable holding a shared secret TCP clients must send first as 'token SECRET\\n'");
  cmd->add_option("--log-file", args->log_file, "Write logs to this file (default: stderr)");
  cmd->add_option("--log-level", args->log_level, "trace, debug, info, warn, error, critical or off");
  cmd->add_option("--debounce", args->debounce, "Inline completion debounce: adaptive, none or milliseconds");
  cmd->add_option("--workers", args->workers, "Worker threads for feature work (0: run on the I/O thread)")
      ->check(CLI::Range(0, 64));
  cmd->add_option("--backend", args->backend,
                  "OpenAI-compatible server for completions instead of a local model, e.g. http://127.0.0.1:8080/v1 "
                  "(vLLM, SGLang, TGI, llama.cpp server, rapide serve-http); --model is then read for its tokenizer only");
  cmd->add_option("--api-key-env", args->api_key_env,
                  "With --backend: environment variable holding the API key (sent as a bearer token)")
      ->capture_default_str();
  cmd->add_option("--backend-model", args->backend_model,
                  "With --backend: model id to request (default: the first one GET /models lists)");
  cmd->add_option("--fim-format", args->fim_format,
                  "With --backend and no --model: FIM tokens of the remote model: qwen, starcoder, deepseek or none")
      ->check(CLI::IsMember({"qwen", "starcoder", "deepseek", "none"}))
      ->capture_default_str();
  cmd->add_option("--backend-timeout-ms", args->backend_timeout_ms, "With --backend: longest wait for one response")
      ->check(CLI::Range(100, 600000))
      ->capture_default_str();
  cmd->add_flag("--shared", args->shared,
               "Share one model between editor windows: relay this stdio session to the user's daemon for these "
               "settings (started on first use, exits when the last client leaves)");
  cmd->add_option("--daemon", args->daemon_socket,
                  "Run as the shared daemon on this Unix socket (what --shared starts; one LSP session per connection)");
  cmd->add_option("--idle-exit-ms", args->idle_exit_ms,
                  "Shared daemon: exit this long after the last client left")
      ->check(CLI::Range(0, 86400000))
      ->capture_default_str();
  cmd->callback([args, exit_code] { *exit_code = run_serve(*args); });
}

}  // namespace rapide::cli
