// JSON-RPC 2.0 pieces: error codes (JSON-RPC + LSP), message builders, and ReplyOnce, the
// handle through which every request is answered exactly once (clangd ReplyOnce): replying
// twice is a bug (asserted, second reply dropped); dropping a handle without replying sends
// an InternalError so the client never waits forever.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

namespace rapide::lsp {

namespace error_code {
inline constexpr int parse_error = -32700;
inline constexpr int invalid_request = -32600;
inline constexpr int method_not_found = -32601;
inline constexpr int invalid_params = -32602;
inline constexpr int internal_error = -32603;
inline constexpr int server_not_initialized = -32002;
inline constexpr int request_failed = -32803;
inline constexpr int server_cancelled = -32802;
inline constexpr int content_modified = -32801;
inline constexpr int request_cancelled = -32800;
}  // namespace error_code

struct RpcError {
  int code = error_code::internal_error;
  std::string message;
};

nlohmann::json make_response(const nlohmann::json& id, nlohmann::json result);
nlohmann::json make_error(const nlohmann::json& id, const RpcError& e);
nlohmann::json make_notification(const std::string& method, nlohmann::json params);
nlohmann::json make_request(const nlohmann::json& id, const std::string& method, nlohmann::json params);

// Sends a serialized message; the server's implementation posts to the loop thread so replies
// may come from any thread.
using MessageSink = std::function<void(nlohmann::json message)>;

class ReplyOnce {
 public:
  ReplyOnce(nlohmann::json id, std::string method, MessageSink sink);
  ReplyOnce(ReplyOnce&&) noexcept = default;
  ReplyOnce& operator=(ReplyOnce&&) noexcept = default;
  ReplyOnce(const ReplyOnce&) = delete;
  ReplyOnce& operator=(const ReplyOnce&) = delete;
  ~ReplyOnce();

  void result(nlohmann::json value);
  void error(RpcError e);
  const nlohmann::json& id() const { return state_->id; }
  const std::string& method() const { return state_->method; }
  bool replied() const { return state_ && state_->replied.load(); }

 private:
  struct State {
    nlohmann::json id;
    std::string method;
    MessageSink sink;
    std::atomic<bool> replied{false};
  };
  std::unique_ptr<State> state_;
};

}  // namespace rapide::lsp
