#include "lsp_session.h"

#include "rapide/lsp/framing.h"

namespace rapide::cli {

LspSession::LspSession(lsp::ServerOptions options, std::shared_ptr<spdlog::logger> logger) {
  server_ = std::make_unique<lsp::LspServer>(loop_, transport_, std::move(options), std::move(logger));
  server_->start([this](int) {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    cv_.notify_all();
  });
  thread_ = std::thread([this] {
    // The loop thread also moves what the server sent into responses_/notifications_.
    while (!loop_.stopped()) {
      loop_.run_until_idle();
      pump();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      std::lock_guard lock(mutex_);
      if (stopped_) break;
    }
  });
}

LspSession::~LspSession() {
  bool stopped = false;
  {
    std::lock_guard lock(mutex_);
    stopped = stopped_;
  }
  if (!stopped) {
    request("shutdown", nullptr, std::chrono::seconds(30));
    notify("exit", nullptr);
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, std::chrono::seconds(10), [this] { return stopped_; });
    stopped_ = true;
  }
  thread_.join();
  server_.reset();
}

void LspSession::pump() {
  for (auto& body : transport_.take_sent()) {
    auto msg = nlohmann::json::parse(body, nullptr, false);
    if (msg.is_discarded()) continue;
    std::lock_guard lock(mutex_);
    if (msg.contains("id") && !msg.contains("method")) {
      const std::string key = msg.at("id").dump();  // before the move below
      responses_[key] = std::move(msg);
    } else if (msg.contains("id")) {
      // A request from the server (workspace/configuration, progress creation): answer null.
      transport_.client_write(lsp::frame_message(
          nlohmann::json{{"jsonrpc", "2.0"}, {"id", msg.at("id")}, {"result", nullptr}}.dump()));
      notifications_.push_back(std::move(msg));
    } else {
      notifications_.push_back(std::move(msg));
    }
    cv_.notify_all();
  }
}

nlohmann::json LspSession::request(const std::string& method, nlohmann::json params, std::chrono::milliseconds timeout) {
  int id;
  {
    std::lock_guard lock(mutex_);
    id = next_id_++;
  }
  nlohmann::json msg = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
  if (!params.is_null()) msg["params"] = std::move(params);
  transport_.client_write(lsp::frame_message(msg.dump()));
  const std::string key = nlohmann::json(id).dump();
  std::unique_lock lock(mutex_);
  if (!cv_.wait_for(lock, timeout, [&] { return responses_.count(key) > 0 || stopped_; }) || !responses_.count(key))
    return {{"error", {{"code", -1}, {"message", "no answer to " + method + " in time"}}}};
  auto r = std::move(responses_[key]);
  responses_.erase(key);
  return r;
}

void LspSession::notify(const std::string& method, nlohmann::json params) {
  nlohmann::json msg = {{"jsonrpc", "2.0"}, {"method", method}};
  if (!params.is_null()) msg["params"] = std::move(params);
  transport_.client_write(lsp::frame_message(msg.dump()));
}

std::vector<nlohmann::json> LspSession::notifications() {
  std::lock_guard lock(mutex_);
  return notifications_;
}

nlohmann::json LspSession::wait_for_model(std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  nlohmann::json st;
  for (;;) {
    st = request("rapide/status", nullptr);
    const auto* r = st.contains("result") ? &st.at("result") : nullptr;
    if (!r || r->value("state", "") != "loading" || std::chrono::steady_clock::now() > end) return r ? *r : st;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace rapide::cli
