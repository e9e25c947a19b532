#include "rapide/lsp/json_rpc.h"

#include <cassert>

namespace rapide::lsp {

nlohmann::json make_response(const nlohmann::json& id, nlohmann::json result) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

nlohmann::json make_error(const nlohmann::json& id, const RpcError& e) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", e.code}, {"message", e.message}}}};
}

nlohmann::json make_notification(const std::string& method, nlohmann::json params) {
  return {{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}};
}

nlohmann::json make_request(const nlohmann::json& id, const std::string& method, nlohmann::json params) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}};
}

ReplyOnce::ReplyOnce(nlohmann::json id, std::string method, MessageSink sink)
    : state_(std::make_unique<State>()) {
  state_->id = std::move(id);
  state_->method = std::move(method);
  state_->sink = std::move(sink);
}

ReplyOnce::~ReplyOnce() {
  if (state_ && !state_->replied.load())
    error({error_code::internal_error, "server dropped the '" + state_->method + "' request without answering"});
}

void ReplyOnce::result(nlohmann::json value) {
  assert(state_ && "ReplyOnce used after move");
  if (state_->replied.exchange(true)) {
    assert(false && "request answered twice");
    return;
  }
  state_->sink(make_response(state_->id, std::move(value)));
}

void ReplyOnce::error(RpcError e) {
  assert(state_ && "ReplyOnce used after move");
  if (state_->replied.exchange(true)) {
    assert(false && "request answered twice");
    return;
  }
  state_->sink(make_error(state_->id, e));
}

}  // namespace rapide::lsp
