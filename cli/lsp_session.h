// An in-process language-server session for one-shot commands (`rapide complete`, `rapide
// demo`): the real LspServer on an in-memory transport, its event loop on a thread, and a
// blocking request() for the command.
#pragma once

#include "rapide/lsp/server.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rapide::cli {

class LspSession {
 public:
  LspSession(lsp::ServerOptions options, std::shared_ptr<spdlog::logger> logger);
  ~LspSession();  // shutdown + exit, joins the loop

  // Sends a request and waits for its response (the whole message: result or error).
  nlohmann::json request(const std::string& method, nlohmann::json params,
                         std::chrono::milliseconds timeout = std::chrono::minutes(10));
  void notify(const std::string& method, nlohmann::json params);
  // Server-to-client notifications received so far (window/showMessage, $/progress ...).
  std::vector<nlohmann::json> notifications();
  // Polls rapide/status until the model is no longer loading; returns the last status.
  nlohmann::json wait_for_model(std::chrono::milliseconds timeout = std::chrono::minutes(10));

 private:
  void pump();  // reads what the server sent

  lsp::EventLoop loop_;
  lsp::InMemoryTransport transport_{loop_};
  std::unique_ptr<lsp::LspServer> server_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<std::string, nlohmann::json> responses_;
  std::vector<nlohmann::json> notifications_;
  int next_id_ = 1;
  bool stopped_ = false;
};

}  // namespace rapide::cli
