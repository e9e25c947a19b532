// A client for OpenAI-compatible completion servers (vLLM, SGLang, TGI, llama.cpp's server,
// `rapide serve-http`) over plain HTTP/1.1 (Boost.Beast).
//
//   auto client = OpenAiClient::create("http://127.0.0.1:8080/v1", api_key);
//   RemoteCompletionRequest r{.prompt = "def f(", .max_tokens = 32, .temperature = 0};
//   auto out = (*client)->complete(r, [](std::string_view piece) { show(piece); return true; }, cancel);
//
// complete() POSTs {base}/completions with "stream": true and hands each piece of text to the
// callback as the server-sent events arrive (a server that answers with one JSON object instead
// of a stream is accepted too). The callback returning false, or the cancel token firing, closes
// the connection at once: servers stop generating when their client goes away. Errors say what
// failed: unreachable server (with the URL), HTTP status with the server's error message,
// malformed responses, timeouts.
//
// Only http:// URLs (put a TLS-terminating proxy in front for remote networks). Thread-safety: a
// client is immutable after create(); complete() may run on several threads at once (one
// connection per call).
#pragma once

#include "rapide/inference/engine/request_queue.h"
#include "rapide/inference/result.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rapide::lsp {

struct RemoteCompletionRequest {
  std::string model;                  // "" : the first model GET {base}/models lists
  std::string prompt;
  std::optional<std::string> suffix;  // fill-in-the-middle (servers that support "suffix")
  std::int32_t max_tokens = 64;
  float temperature = 0.0f;
  float top_p = 1.0f;
  std::vector<std::string> stop;
  std::optional<std::uint64_t> seed;
  bool stream = true;
  // Ends the call at this time (the connection closes; the text received so far is kept and
  // deadline_hit is set) instead of waiting for the client-wide response_timeout.
  std::optional<std::chrono::steady_clock::time_point> deadline;
};

struct RemoteCompletionResult {
  std::string text;
  std::string finish_reason;   // "stop", "length", ... ("" when the server sent none)
  bool cancelled = false;      // the cancel token fired or the callback returned false
  bool deadline_hit = false;   // the request's deadline came first (text holds what arrived)
  std::int64_t prompt_tokens = -1;      // from "usage" when the server sent it
  std::int64_t completion_tokens = -1;
};

struct OpenAiClientOptions {
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds response_timeout{60000};  // whole response
};

class OpenAiClient {
 public:
  // base_url: http://host[:port]/v1 (a trailing slash is ignored). Checks the form only.
  static Result<std::unique_ptr<OpenAiClient>> create(std::string base_url, std::string api_key = {},
                                                      OpenAiClientOptions options = {});

  using OnText = std::function<bool(std::string_view piece)>;
  Result<RemoteCompletionResult> complete(const RemoteCompletionRequest& request, const OnText& on_text,
                                          const inference::engine::CancelToken& cancel) const;
  // GET {base}/models: the model ids. A cancel or the deadline ends the wait (an error).
  Result<std::vector<std::string>> models(
      const inference::engine::CancelToken& cancel = {},
      std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt) const;

  const std::string& base_url() const { return base_url_; }

 private:
  OpenAiClient() = default;
  struct Response;
  Result<Response> exchange(const std::string& method, const std::string& path, const std::string& body,
                            const std::function<bool(const std::string& body_so_far, bool is_event_stream)>& on_body,
                            const inference::engine::CancelToken& cancel,
                            std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt) const;

  std::string base_url_;
  std::string host_;
  std::string port_;
  std::string path_;  // "/v1"
  std::string api_key_;
  OpenAiClientOptions options_;
};

}  // namespace rapide::lsp
