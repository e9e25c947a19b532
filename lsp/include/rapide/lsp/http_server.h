// An OpenAI-compatible completions server over HTTP/1.1 (Boost.Beast), backed by one Engine.
//
//   POST /v1/completions  {"prompt", "suffix"?, "max_tokens"?, "temperature"?, "top_p"?, "stop"?,
//                          "seed"?, "stream"?, "n"?: 1, "model"?}
//        -> {"id","object":"text_completion","created","model",
//            "choices":[{"text","index":0,"finish_reason","logprobs":null}],"usage":{...}}
//        stream=true: server-sent events, one `data: {chunk}` per piece of text, a last chunk with
//        the finish_reason, then `data: [DONE]`; the connection closes after the stream.
//   GET  /v1/models       -> {"object":"list","data":[{"id","object":"model","owned_by":"rapide"}]}
//   GET  /health          -> {"status":"ok","model","served","cancelled","open_requests","connections"}
//                            (requests answered / cancelled by a client leaving since the start;
//                            completions being answered now; open connections)
//
// With "suffix", the prompt is the text before the cursor and the engine's FIM builder makes the
// prompt (PSM order) from the model's FIM tokens; its FIM stop tokens end the completion.
// Otherwise the prompt text is tokenized with BOS as `rapide generate` does, so greedy output
// (temperature 0) matches `rapide generate --temp 0`; control-token texts in it ("<|fim_prefix|>",
// "<|file_sep|>" ...) become their special ids (parse_special), so a client may send a FIM
// prompt it laid out itself (as the language server's remote backend does); a prompt holding the
// FIM middle token then also stops at the FIM stop tokens.
//
// Errors are JSON {"error":{"message","type"}} with 400 (malformed HTTP or JSON, missing or
// mistyped fields), 401 (bearer token), 404 (unknown path), 405 (method), 413 (body too large),
// 503 (too many connections). A bad request never stops the server.
//
// Concurrency: one thread per connection (at most max_connections); all requests go to the one
// Engine, which batches the live sequences in each forward pass (continuous batching: requests
// join and leave between passes). A client that disconnects cancels its engine request.
// Timeouts: a request (headers and body) must arrive within read_timeout; an idle keep-alive
// connection is closed after idle_timeout.
#pragma once

#include "rapide/inference/engine/engine.h"
#include "rapide/inference/engine/fim.h"
#include "rapide/inference/result.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace rapide::lsp {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0: an ephemeral port (see HttpServer::port())
  std::string api_key;        // non-empty: require "Authorization: Bearer <api_key>"
  std::string model_name = "rapide";
  std::size_t max_body_bytes = 1u << 20;
  std::chrono::milliseconds read_timeout{10000};
  std::chrono::milliseconds idle_timeout{30000};
  int max_connections = 64;
  std::int32_t max_tokens_limit = 4096;  // largest max_tokens accepted
};

class HttpServer {
 public:
  // Binds and listens (errors: bad address, port in use). The engine must outlive the server.
  static Result<std::unique_ptr<HttpServer>> create(inference::engine::Engine& engine, HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  std::uint16_t port() const;
  // Accepts connections until stop() (from any thread); joins the connection threads on return.
  void run();
  void stop();

  // Counters (for logs and tests).
  std::int64_t requests_served() const { return served_.load(); }
  std::int64_t requests_cancelled() const { return cancelled_.load(); }

  struct Impl;

 private:
  HttpServer() = default;
  std::unique_ptr<Impl> impl_;
  std::atomic<std::int64_t> served_{0};
  std::atomic<std::int64_t> cancelled_{0};
};

}  // namespace rapide::lsp
