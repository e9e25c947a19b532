// `rapide serve`: the language server over stdio (default) or TCP.
#include "commands.h"
#include "device_option.h"

#include "rapide/lsp/logging.h"
#include "rapide/lsp/server.h"
#include "rapide/lsp/transport.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
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
};

int run_serve(const ServeArgs& a) {
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
  return exit_code;
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
  cmd->callback([args, exit_code] { *exit_code = run_serve(*args); });
}

}  // namespace rapide::cli
