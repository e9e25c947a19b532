// `rapide serve-http`: the OpenAI-compatible completions server (see rapide/lsp/http_server.h)
// over one Engine, so that many editors share one model on one machine.
#include "commands.h"
#include "device_option.h"

#include "rapide/inference/engine/engine.h"
#include "rapide/inference/gguf.h"
#include "rapide/inference/model.h"
#include "rapide/inference/tokenizer.h"
#include "rapide/lsp/http_server.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

namespace rapide::cli {

namespace {

namespace inf = rapide::inference;
namespace eng = rapide::inference::engine;

struct ServeHttpArgs {
  std::string model;
  std::string listen = "127.0.0.1:8080";
  std::string api_key_env;
  std::string model_name;
  int threads = 0;
  std::string device = "auto";
  int ctx = 4096;
  int max_batch = 4;
  int max_active = 16;
  std::size_t max_body = 1u << 20;
  int read_timeout_ms = 10000;
  int idle_timeout_ms = 30000;
  int max_connections = 64;
};

lsp::HttpServer* g_server = nullptr;

void on_signal(int) {
  if (g_server) g_server->stop();
}

bool is_loopback(const std::string& host) {
  return host == "127.0.0.1" || host == "::1" || host.rfind("127.", 0) == 0;
}

int run_serve_http(const ServeHttpArgs& a) {
  // HOST:PORT, [V6]:PORT.
  std::string host, port;
  if (!a.listen.empty() && a.listen.front() == '[') {
    const auto close = a.listen.find("]:");
    if (close == std::string::npos) {
      std::fprintf(stderr, "rapide serve-http: --listen '%s': expected [IPv6]:PORT\n", a.listen.c_str());
      return 2;
    }
    host = a.listen.substr(1, close - 1);
    port = a.listen.substr(close + 2);
  } else {
    const auto colon = a.listen.rfind(':');
    if (colon == std::string::npos) {
      std::fprintf(stderr, "rapide serve-http: --listen '%s': expected HOST:PORT (e.g. 127.0.0.1:8080)\n",
                   a.listen.c_str());
      return 2;
    }
    host = a.listen.substr(0, colon);
    port = a.listen.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) > 65535) {
    std::fprintf(stderr, "rapide serve-http: --listen '%s': port must be a number in 0..65535, got '%s'\n",
                 a.listen.c_str(), port.c_str());
    return 2;
  }
  lsp::HttpServerOptions so;
  so.host = host;
  so.port = static_cast<std::uint16_t>(std::stoi(port));
  if (!a.api_key_env.empty()) {
    const char* key = std::getenv(a.api_key_env.c_str());
    if (!key || !*key) {
      std::fprintf(stderr, "rapide serve-http: --api-key-env %s: the environment variable is not set or empty\n",
                   a.api_key_env.c_str());
      return 2;
    }
    so.api_key = key;
  }
  if (!is_loopback(host) && so.api_key.empty())
    std::fprintf(stderr,
                 "rapide serve-http: warning: listening on %s without an API key; anyone who can reach it can "
                 "use the model (set --api-key-env)\n",
                 host.c_str());
  if (a.max_batch < 1 || a.max_active < 1) {
    std::fprintf(stderr, "rapide serve-http: --max-batch and --max-active must be >= 1\n");
    return 2;
  }
  so.max_body_bytes = a.max_body;
  so.read_timeout = std::chrono::milliseconds(a.read_timeout_ms);
  so.idle_timeout = std::chrono::milliseconds(a.idle_timeout_ms);
  so.max_connections = a.max_connections;
  so.model_name = a.model_name.empty() ? std::filesystem::path(a.model).stem().string() : a.model_name;

  auto file = inf::gguf::GgufFile::open(a.model);
  if (!file) {
    std::fprintf(stderr, "rapide serve-http: %s\n", file.message().c_str());
    return 1;
  }
  auto tok = inf::Tokenizer::from_gguf(**file);
  if (!tok) {
    std::fprintf(stderr, "rapide serve-http: %s: %s\n", a.model.c_str(), tok.message().c_str());
    return 1;
  }
  const auto dev = resolve_device(a.device);
  if (!dev) {
    std::fprintf(stderr, "rapide serve-http: %s\n", dev.message().c_str());
    return 1;
  }
  inf::LoadOptions lo;
  lo.n_threads = a.threads;
  lo.device = *dev;
  auto model = inf::Model::load(*file, lo);
  if (!model) {
    std::fprintf(stderr, "rapide serve-http: %s: %s\n", a.model.c_str(), model.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "rapide serve-http: %s\n", (*model)->device_note().c_str());
  eng::Engine::Options eo;
  eo.n_ctx = a.ctx;
  eo.max_batch = a.max_batch;
  eo.max_active = std::max(a.max_active, a.max_batch);
  auto engine = eng::Engine::create(std::move(*model), *tok, eo);
  if (!engine) {
    std::fprintf(stderr, "rapide serve-http: %s\n", engine.message().c_str());
    return 1;
  }
  so.max_tokens_limit = (*engine)->options().n_ctx;
  auto server = lsp::HttpServer::create(**engine, so);
  if (!server) {
    std::fprintf(stderr, "rapide serve-http: %s\n", server.message().c_str());
    return 1;
  }
  g_server = server->get();
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  // The one line on stdout: tests and scripts read the bound port from it (--listen HOST:0).
  std::printf("rapide serve-http: listening on http://%s:%u/v1 (model %s, max batch %d)\n",
              host.find(':') != std::string::npos ? ("[" + host + "]").c_str() : host.c_str(),
              static_cast<unsigned>((*server)->port()), so.model_name.c_str(), a.max_batch);
  std::fflush(stdout);
  (*server)->run();
  std::fprintf(stderr, "rapide serve-http: stopped after %lld requests (%lld cancelled)\n",
               static_cast<long long>((*server)->requests_served()),
               static_cast<long long>((*server)->requests_cancelled()));
  g_server = nullptr;
  return 0;
}

}  // namespace

void register_serve_http(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<ServeHttpArgs>();
  CLI::App* cmd = app.add_subcommand(
      "serve-http", "Serve the model over an OpenAI-compatible HTTP API (POST /v1/completions, GET /v1/models, /health)");
  cmd->add_option("--model", args->model, "GGUF model file")->required()->check(CLI::ExistingFile);
  add_device_option(*cmd, &args->device);
  cmd->add_option("--listen", args->listen, "HOST:PORT to listen on (port 0: any free port)")->capture_default_str();
  cmd->add_option("--api-key-env", args->api_key_env,
                  "Environment variable holding the API key; requests then need 'Authorization: Bearer <key>'");
  cmd->add_option("--model-name", args->model_name, "Model id reported by /v1/models (default: the file name)");
  cmd->add_option("--threads", args->threads, "CPU threads for the model (0: all cores)")->capture_default_str();
  cmd->add_option("--ctx", args->ctx, "Context size per sequence (tokens)")->capture_default_str();
  cmd->add_option("--max-batch", args->max_batch,
                  "Sequences per forward pass (continuous batching across requests; 1 turns batching off)")
      ->capture_default_str();
  cmd->add_option("--max-active", args->max_active, "Requests generating at once (the rest queue)")
      ->capture_default_str();
  cmd->add_option("--max-body-bytes", args->max_body, "Largest request body accepted (413 above)")
      ->capture_default_str();
  cmd->add_option("--read-timeout-ms", args->read_timeout_ms, "Time allowed to receive a whole request")
      ->capture_default_str();
  cmd->add_option("--idle-timeout-ms", args->idle_timeout_ms, "Idle keep-alive connections close after this")
      ->capture_default_str();
  cmd->add_option("--max-connections", args->max_connections, "Open connections served at once (503 above)")
      ->capture_default_str();
  cmd->callback([args, exit_code] { *exit_code = run_serve_http(*args); });
}

}  // namespace rapide::cli
