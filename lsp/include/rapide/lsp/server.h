// The protocol layer (clangd ClangdLSPServer's role): JSON-RPC dispatch, lifecycle and
// capability negotiation, document sync, settings, and the custom rapide/* requests. Features
// are delegated to the Assistant; documents live in the Scheduler.
//
// Every request is answered exactly once (ReplyOnce): malformed messages get -32700/-32600,
// unknown methods -32601, bad params -32602 (with the JSON path), requests before initialize
// -32002, cancelled requests -32800. Batches (JSON arrays) are rejected with -32600.
//
// Threading: everything here runs on the event loop thread; replies from workers are posted
// back to it. on_exit is called once, on `exit` or when the transport closes.
#pragma once

#include "rapide/lsp/assistant.h"
#include "rapide/lsp/event_loop.h"
#include "rapide/lsp/json_rpc.h"
#include "rapide/lsp/metrics.h"
#include "rapide/lsp/model_host.h"
#include "rapide/lsp/protocol/lifecycle.h"
#include "rapide/lsp/scheduler.h"
#include "rapide/lsp/transport.h"

#include <nlohmann/json.hpp>
#include <spdlog/logger.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace rapide::lsp {

struct ServerOptions {
  SchedulerOptions scheduler;
  Settings settings;        // defaults before the client sends any
  ModelHostOptions models;  // loaded in the background from start(); empty model: no-model
  bool prefetch = true;
};

class LspServer {
 public:
  LspServer(EventLoop& loop, Transport& transport, ServerOptions options, std::shared_ptr<spdlog::logger> logger);
  ~LspServer();
  LspServer(const LspServer&) = delete;
  LspServer& operator=(const LspServer&) = delete;

  // Starts reading. `on_exit(code)` is called once: 0 after shutdown+exit, 1 for exit without
  // shutdown or a lost connection.
  void start(std::function<void(int exit_code)> on_exit);

  Assistant& assistant() { return *assistant_; }
  ModelHost& models() { return *models_; }
  Metrics& metrics() { return metrics_; }
  Scheduler& scheduler() { return *scheduler_; }

  // Notifications from the server side (model loading): thread-safe, posted to the loop.
  void show_message(int type, std::string message);
  void log_message(int type, std::string message);
  // Work-done progress for model loading; no-ops when the client did not offer the capability.
  void progress_report(double fraction, std::string message);
  void progress_end(std::string message);

 private:
  using Reply = std::shared_ptr<ReplyOnce>;
  using RequestHandler = std::function<void(const nlohmann::json& params, Reply reply, CancelToken cancel)>;
  using NotificationHandler = std::function<void(const nlohmann::json& params)>;

  void on_frame(FrameEvent event);
  void on_message(const nlohmann::json& msg);
  void on_request(const nlohmann::json& id, const std::string& method, const nlohmann::json& params);
  void on_notification(const std::string& method, const nlohmann::json& params);
  void on_response(const nlohmann::json& msg);
  void send(nlohmann::json message);
  void send_error(const nlohmann::json& id, RpcError e);
  void finish(int exit_code);
  void request_configuration();
  void apply_settings_json(const nlohmann::json& section, const std::string& origin);
  MessageSink reply_sink(const nlohmann::json& id);
  nlohmann::json status_json() const;

  // Handlers.
  void register_handlers();
  void initialize(const nlohmann::json& params, Reply reply);
  void did_open(const nlohmann::json& params);
  void did_change(const nlohmann::json& params);
  void did_close(const nlohmann::json& params);
  void did_change_configuration(const nlohmann::json& params);
  void cancel_request(const nlohmann::json& params);

  // Answer<json> -> reply, turning errors of cancelled requests into RequestCancelled.
  static AnswerCallback<nlohmann::json> to_reply(Reply reply, CancelToken cancel);
  void drain_then_exit(int exit_code, int attempts_left);

  EventLoop& loop_;
  Transport& transport_;
  ServerOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  Metrics metrics_;
  std::unique_ptr<ModelHost> models_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<Assistant> assistant_;
  std::map<std::string, RequestHandler> requests_;
  std::map<std::string, NotificationHandler> notifications_;
  std::map<std::string, CancelToken> in_flight_;  // request id (dumped JSON) -> its token
  std::map<std::string, std::function<void(const nlohmann::json& result, const nlohmann::json* error)>> pending_out_;
  std::int64_t next_out_id_ = 1;
  std::function<void(int)> on_exit_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  enum class State { uninitialized, initialized, shutting_down, exited };
  State state_ = State::uninitialized;
  InitializeParams client_;
  std::optional<std::string> progress_token_;
  std::optional<std::string> pending_model_message_;  // a load failure to show after initialized
  void on_model_done(const ModelStatus& status);
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace rapide::lsp
