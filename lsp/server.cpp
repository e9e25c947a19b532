#include "rapide/lsp/server.h"

#include "rapide/lsp/document_info.h"
#include "rapide/lsp/protocol/basic.h"
#include "rapide/lsp/protocol/features.h"
#include "rapide/lsp/server_info.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <fstream>

namespace rapide::lsp {
namespace {

const char* encoding_name(PositionEncoding e) { return e == PositionEncoding::utf8 ? "utf-8" : "utf-16"; }

std::uint64_t resident_bytes() {
  std::ifstream f("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  if (!(f >> size >> resident)) return 0;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

std::uint32_t to_u32(std::int64_t v) {
  return v > static_cast<std::int64_t>(UINT32_MAX) ? UINT32_MAX : static_cast<std::uint32_t>(v);
}

std::vector<context::TextChange> parse_changes(const nlohmann::json& params, const JsonPath& at) {
  const auto changes_at = at / "contentChanges";
  const auto& changes = read_array(require_member(params, "contentChanges", at), changes_at);
  std::vector<context::TextChange> out;
  for (std::size_t i = 0; i < changes.size(); ++i) {
    const auto c_at = changes_at[i];
    const auto& c = changes.at(i);
    context::TextChange tc;
    tc.text = read_string(require_member(c, "text", c_at), c_at / "text");
    if (const auto* r = optional_member(c, "range")) {
      const Range range = parse_range(*r, c_at / "range");
      tc.range = context::Range{{to_u32(range.start.line), to_u32(range.start.character)},
                                {to_u32(range.end.line), to_u32(range.end.character)}};
    }
    out.push_back(std::move(tc));
  }
  return out;
}

}  // namespace

LspServer::LspServer(EventLoop& loop, Transport& transport, ServerOptions options, std::shared_ptr<spdlog::logger> logger)
    : loop_(loop), transport_(transport), options_(std::move(options)), log_(std::move(logger)) {
  models_ = std::make_unique<ModelHost>(log_);
  // The workspace's own events (a parse out of its time budget) go to the server's log.
  if (!options_.scheduler.workspace.log && log_)
    options_.scheduler.workspace.log = [log = log_](const std::string& line) { log->warn("{}", line); };
  scheduler_ = std::make_unique<Scheduler>(loop_, options_.scheduler, metrics_);
  assistant_ = std::make_unique<Assistant>(*scheduler_, *models_, metrics_, log_);
  assistant_->set_options({PositionEncoding::utf16, options_.settings, options_.prefetch});
  register_handlers();
}

LspServer::~LspServer() {
  *alive_ = false;
  assistant_->stop_generations();
  scheduler_->cancel_all();
  scheduler_.reset();  // joins workers (they may be waiting on the engine: cancelled above)
  assistant_.reset();
  models_.reset();     // joins the loader, stops the engines
}

void LspServer::start(std::function<void(int)> on_exit) {
  on_exit_ = std::move(on_exit);
  log_->info("rapide language server listening on {}", transport_.describe());
  transport_.start({[this](FrameEvent e) { on_frame(std::move(e)); },
                    [this](std::string why) {
                      log_->info("transport closed: {}", why);
                      if (state_ != State::exited) finish(state_ == State::shutting_down ? 0 : 1);
                    }});
}

void LspServer::send(nlohmann::json message) {
  transport_.send(message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void LspServer::send_error(const nlohmann::json& id, RpcError e) {
  metrics_.errors_sent.fetch_add(1);
  log_->debug("error {} for id {}: {}", e.code, id.dump(), e.message);
  send(make_error(id, e));
}

MessageSink LspServer::reply_sink(const nlohmann::json& id) {
  std::weak_ptr<bool> alive = alive_;
  return [this, alive, key = id.dump()](nlohmann::json msg) {
    loop_.post([this, alive, key, msg = std::move(msg)]() mutable {
      if (alive.expired()) return;
      in_flight_.erase(key);
      if (msg.contains("error")) metrics_.errors_sent.fetch_add(1);
      send(std::move(msg));
    });
  };
}

void LspServer::on_frame(FrameEvent event) {
  if (state_ == State::exited) return;
  metrics_.messages_received.fetch_add(1);
  if (event.kind == FrameEvent::Kind::error) {
    metrics_.framing_errors.fetch_add(1);
    log_->warn("framing error: {}", event.text);
    return send_error(nullptr, {error_code::parse_error, event.text});
  }
  nlohmann::json msg;
  try {
    msg = nlohmann::json::parse(event.text);
  } catch (const nlohmann::json::exception& e) {
    // parse_error, and out_of_range for a number beyond a double (1e999), found by lsp_server_fuzz.
    return send_error(nullptr, {error_code::parse_error, std::string("invalid JSON in message body (") +
                                                             std::to_string(event.text.size()) + " bytes): " + e.what()});
  }
  on_message(msg);
}

void LspServer::on_message(const nlohmann::json& msg) {
  if (msg.is_array())
    return send_error(nullptr, {error_code::invalid_request,
                                "batch messages are not supported by the Language Server Protocol (got an array of " +
                                    std::to_string(msg.size()) + " messages); send them one per frame"});
  if (!msg.is_object())
    return send_error(nullptr, {error_code::invalid_request,
                                std::string("a JSON-RPC message must be an object, got ") + json_type_name(msg)});
  nlohmann::json id = nullptr;
  const bool has_id = msg.contains("id");
  if (has_id) {
    id = msg.at("id");
    if (!id.is_string() && !id.is_number_integer())
      return send_error(nullptr, {error_code::invalid_request,
                                  std::string("\"id\" must be an integer or a string, got ") + json_type_name(id)});
  }
  const auto jv = msg.find("jsonrpc");
  if (jv == msg.end() || !jv->is_string() || jv->get<std::string>() != "2.0")
    return send_error(id, {error_code::invalid_request, "\"jsonrpc\" must be \"2.0\""});
  const auto m = msg.find("method");
  if (m == msg.end()) {
    if (has_id && (msg.contains("result") || msg.contains("error"))) return on_response(msg);
    return send_error(id, {error_code::invalid_request, "message has no \"method\" (and is not a response)"});
  }
  if (!m->is_string())
    return send_error(id, {error_code::invalid_request,
                           std::string("\"method\" must be a string, got ") + json_type_name(*m)});
  const std::string method = m->get<std::string>();
  nlohmann::json params = nullptr;
  if (const auto p = msg.find("params"); p != msg.end() && !p->is_null()) {  // null: as if omitted
    if (!p->is_object() && !p->is_array())
      return has_id ? send_error(id, {error_code::invalid_request, "\"params\" must be an object or an array"})
                    : log_->warn("notification {} with non-structured params dropped", method);
    params = *p;
  }
  if (has_id) {
    metrics_.requests_received.fetch_add(1);
    on_request(id, method, params);
  } else {
    metrics_.notifications_received.fetch_add(1);
    on_notification(method, params);
  }
}

void LspServer::on_request(const nlohmann::json& id, const std::string& method, const nlohmann::json& params) {
  log_->debug("<-- {} (id {})", method, id.dump());
  if (state_ == State::uninitialized && method != "initialize")
    return send_error(id, {error_code::server_not_initialized,
                           "'" + method + "' before 'initialize': the server is not initialized yet"});
  if (state_ == State::shutting_down)
    return send_error(id, {error_code::invalid_request, "'" + method + "' after 'shutdown': the server is shutting down"});
  const auto it = requests_.find(method);
  if (it == requests_.end())
    return send_error(id, {error_code::method_not_found, "method '" + method + "' is not supported by rapide"});
  const std::string key = id.dump();
  if (in_flight_.count(key))
    return send_error(id, {error_code::invalid_request, "request id " + key + " is already in use by a pending request"});
  CancelToken cancel;
  in_flight_.emplace(key, cancel);
  auto reply = std::make_shared<ReplyOnce>(id, method, reply_sink(id));
  try {
    it->second(params, reply, cancel);
  } catch (const ParamsError& e) {
    if (!reply->replied()) reply->error({error_code::invalid_params, std::string("invalid params for '") + method + "': " + e.what()});
  } catch (const std::exception& e) {
    log_->error("handler for {} threw: {}", method, e.what());
    if (!reply->replied()) reply->error({error_code::internal_error, "internal error in '" + method + "': " + e.what()});
  }
}

void LspServer::on_notification(const std::string& method, const nlohmann::json& params) {
  log_->debug("<-- {} (notification)", method);
  if (method == "exit") return finish(state_ == State::shutting_down ? 0 : 1);
  if (state_ == State::uninitialized) {
    log_->warn("notification '{}' before 'initialize' dropped", method);
    return;
  }
  const auto it = notifications_.find(method);
  if (it == notifications_.end()) {
    log_->debug("notification '{}' ignored (not supported)", method);
    return;
  }
  try {
    it->second(params);
  } catch (const ParamsError& e) {
    log_->error("invalid params for notification '{}': {}", method, e.what());
    log_message(1, "rapide: invalid params for '" + method + "': " + e.what());
  } catch (const std::exception& e) {
    log_->error("notification '{}' failed: {}", method, e.what());
  }
}

void LspServer::on_response(const nlohmann::json& msg) {
  const std::string key = msg.at("id").dump();
  const auto it = pending_out_.find(key);
  if (it == pending_out_.end()) {
    log_->warn("response to unknown request id {} ignored", key);
    return;
  }
  auto handler = std::move(it->second);
  pending_out_.erase(it);
  const auto err = msg.find("error");
  static const nlohmann::json null_json;
  handler(msg.contains("result") ? msg.at("result") : null_json, err == msg.end() ? nullptr : &*err);
}

void LspServer::finish(int exit_code) {
  if (state_ == State::exited) return;
  state_ = State::exited;
  assistant_->stop_generations();
  scheduler_->cancel_all();
  drain_then_exit(exit_code, 200);
}

void LspServer::drain_then_exit(int exit_code, int attempts_left) {
  // Replies of cancelled work are posted to the loop; send them before leaving (bounded wait).
  if (!in_flight_.empty() && attempts_left > 0) {
    auto again = [this, exit_code, attempts_left] { drain_then_exit(exit_code, attempts_left - 1); };
    // First behind the replies already queued, then at a slower pace for workers still running.
    if (attempts_left > 195) {
      loop_.post(std::move(again));
    } else {
      loop_.post_after(std::chrono::milliseconds(10), std::move(again));
    }
    return;
  }
  // The replies queued so far (shutdown's, ...) are written before the loop may stop: over TCP
  // writes are asynchronous and would be lost with the socket.
  std::weak_ptr<bool> alive = alive_;
  transport_.close_after_flush([this, alive, exit_code] {
    if (alive.expired()) return;
    log_->info("exiting with code {}", exit_code);
    if (on_exit_) {
      auto cb = std::move(on_exit_);
      on_exit_ = nullptr;
      cb(exit_code);
    }
  });
}

AnswerCallback<nlohmann::json> LspServer::to_reply(Reply reply, CancelToken cancel) {
  return [reply = std::move(reply), cancel](Answer<nlohmann::json> a) {
    if (cancel.cancelled())
      return reply->error({error_code::request_cancelled, "request '" + reply->method() + "' was cancelled"});
    if (auto* e = std::get_if<RpcError>(&a)) return reply->error(std::move(*e));
    reply->result(std::move(std::get<nlohmann::json>(a)));
  };
}

void LspServer::register_handlers() {
  const JsonPath P("params");
  requests_["initialize"] = [this](const nlohmann::json& params, Reply reply, CancelToken) {
    initialize(params, std::move(reply));
  };
  requests_["shutdown"] = [this](const nlohmann::json&, Reply reply, CancelToken) {
    state_ = State::shutting_down;
    assistant_->stop_generations();
    scheduler_->cancel_all();
    reply->result(nullptr);
  };
  requests_["rapide/status"] = [this](const nlohmann::json&, Reply reply, CancelToken) { reply->result(status_json()); };
  requests_["rapide/metrics"] = [this](const nlohmann::json&, Reply reply, CancelToken) {
    reply->result(metrics_.to_json());
  };
  requests_["rapide/document"] = [this, P](const nlohmann::json& params, Reply reply, CancelToken) {
    const std::string uri = parse_document_uri(params, P);
    const auto* inc = optional_member(params, "includeText");
    const bool include_text = inc && read_bool(*inc, P / "includeText");
    const auto doc = scheduler_->snapshot(uri);
    if (!doc) return reply->error({error_code::invalid_params, "document '" + uri + "' is not open"});
    reply->result(document_info_json(uri, *doc, include_text));
  };
  requests_["textDocument/inlineCompletion"] = [this, P](const nlohmann::json& params, Reply reply, CancelToken cancel) {
    const auto p = parse_inline_completion_params(params, P);
    assistant_->inline_completion(p, cancel, to_reply(std::move(reply), cancel));
  };
  requests_["textDocument/completion"] = [this, P](const nlohmann::json& params, Reply reply, CancelToken cancel) {
    const auto p = parse_completion_params(params, P);
    assistant_->completion(p, cancel, to_reply(std::move(reply), cancel));
  };
  requests_["textDocument/codeAction"] = [this, P](const nlohmann::json& params, Reply reply, CancelToken cancel) {
    const auto p = parse_code_action_params(params, P);
    assistant_->code_actions(p, cancel, to_reply(std::move(reply), cancel));
  };
  requests_["codeAction/resolve"] = [this, P](const nlohmann::json& params, Reply reply, CancelToken cancel) {
    read_object(params, P);
    read_string(require_member(params, "title", P), P / "title");
    assistant_->resolve_code_action(params, cancel, to_reply(std::move(reply), cancel));
  };
  requests_["textDocument/hover"] = [this, P](const nlohmann::json& params, Reply reply, CancelToken cancel) {
    const auto p = parse_hover_params(params, P);
    assistant_->hover(p, cancel, to_reply(std::move(reply), cancel));
  };

  notifications_["initialized"] = [this](const nlohmann::json&) {
    if (client_.supportsConfiguration) request_configuration();
    if (pending_model_message_) {
      show_message(1, *pending_model_message_);
      pending_model_message_.reset();
    } else if (options_.models.model.empty() && options_.models.backend.url.empty()) {
      show_message(3, "rapide: no model given (start `rapide serve --model FILE.gguf`); completions, fixes and "
                      "hovers are off");
    }
  };
  // Copilot-style: {textDocument, item: {insertText, range}} (+ acceptedLength, UTF-16 units, for
  // a partial accept). Without item.range there is no place to warm for: logged only.
  notifications_["textDocument/didShowCompletion"] = [this, P](const nlohmann::json& p) {
    const auto& item = require_member(p, "item", P);
    const std::string uri = parse_document_uri(p, P);
    const std::string text = read_string(require_member(item, "insertText", P / "item"), P / "item" / "insertText");
    if (const auto* r = optional_member(item, "range"))
      assistant_->did_show_completion(uri, text, parse_range(*r, P / "item" / "range").start);
  };
  notifications_["textDocument/didPartiallyAcceptCompletion"] = [this, P](const nlohmann::json& p) {
    const auto& item = require_member(p, "item", P);
    const std::string uri = parse_document_uri(p, P);
    const std::string text = read_string(require_member(item, "insertText", P / "item"), P / "item" / "insertText");
    const std::int64_t accepted = read_int(require_member(p, "acceptedLength", P), P / "acceptedLength");
    if (const auto* r = optional_member(item, "range"); r && accepted >= 0)
      assistant_->did_partially_accept_completion(uri, text, parse_range(*r, P / "item" / "range").start,
                                                  static_cast<std::uint32_t>(std::min<std::int64_t>(accepted, UINT32_MAX)));
  };
  notifications_["textDocument/didOpen"] = [this](const nlohmann::json& p) { did_open(p); };
  notifications_["textDocument/didChange"] = [this](const nlohmann::json& p) { did_change(p); };
  notifications_["textDocument/didClose"] = [this](const nlohmann::json& p) { did_close(p); };
  notifications_["textDocument/didSave"] = [this, P](const nlohmann::json& p) {
    const std::string uri = parse_document_uri(p, P);
    if (!scheduler_->snapshot(uri)) log_->warn("didSave for '{}', which is not open", uri);
  };
  notifications_["workspace/didChangeConfiguration"] = [this](const nlohmann::json& p) { did_change_configuration(p); };
  notifications_["$/cancelRequest"] = [this](const nlohmann::json& p) { cancel_request(p); };
  notifications_["$/setTrace"] = [](const nlohmann::json&) {};
}

void LspServer::initialize(const nlohmann::json& params, Reply reply) {
  if (state_ != State::uninitialized)
    return reply->error({error_code::invalid_request, "'initialize' was already received"});
  client_ = parse_initialize_params(params, JsonPath("params"));
  AssistantOptions opts = assistant_->options();
  opts.encoding = client_.encoding;
  if (client_.initializationOptions) {
    const auto& io = *client_.initializationOptions;
    // Accept {"rapide": {...}} or the settings object itself.
    const auto* section = optional_member(io, "rapide");
    apply_settings(opts.settings, section ? *section : io,
                   JsonPath(section ? "params.initializationOptions.rapide" : "params.initializationOptions"));
  }
  assistant_->set_options(opts);
  state_ = State::initialized;
  log_->info("initialized by {} (position encoding {})", client_.clientName.empty() ? "a client" : client_.clientName,
             encoding_name(client_.encoding));
  nlohmann::json caps = {
      {"positionEncoding", encoding_name(client_.encoding)},
      {"textDocumentSync", {{"openClose", true}, {"change", 2}, {"save", {{"includeText", false}}}}},
      {"inlineCompletionProvider", true},
      {"codeActionProvider",
       {{"codeActionKinds", {"quickfix", "refactor.rewrite"}}, {"resolveProvider", true}}},
      {"hoverProvider", true},
  };
  // The completion-item fallback is for clients without inline completion only: a client that
  // has both would show the same model text twice (ghost text and a popup item) and pay for two
  // generations per keystroke. The request is still answered when sent anyway.
  if (!client_.supportsInlineCompletion) caps["completionProvider"] = {{"resolveProvider", false}};
  reply->result({{"capabilities", caps}, {"serverInfo", server_info()}});
  // Load after answering, so that $/progress can be reported (allowed once initialize is
  // answered) and the editor never waits on the load.
  ModelHost::Listener listener;
  listener.on_progress = [this](double f, const std::string& what) { progress_report(f, what); };
  listener.on_done = [this, alive = std::weak_ptr<bool>(alive_)](const ModelStatus& st) {
    loop_.post([this, alive, st] {
      if (!alive.expired()) on_model_done(st);
    });
  };
  listener.on_message = [this](int type, const std::string& message) { show_message(type, message); };
  models_->load_async(options_.models, std::move(listener));
}

void LspServer::did_open(const nlohmann::json& params) {
  const JsonPath at("params");
  const auto td_at = at / "textDocument";
  const auto& td = require_member(params, "textDocument", at);
  const std::string uri = read_string(require_member(td, "uri", td_at), td_at / "uri");
  const std::string lang = read_string(require_member(td, "languageId", td_at), td_at / "languageId");
  const std::int64_t version = read_int(require_member(td, "version", td_at), td_at / "version");
  std::string text = read_string(require_member(td, "text", td_at), td_at / "text");
  log_->debug("open {} ({}, v{}, {} bytes)", uri, lang, version, text.size());
  scheduler_->open(uri, lang, std::move(text), version);
}

void LspServer::did_change(const nlohmann::json& params) {
  const JsonPath at("params");
  const auto td_at = at / "textDocument";
  const auto& td = require_member(params, "textDocument", at);
  const std::string uri = read_string(require_member(td, "uri", td_at), td_at / "uri");
  const std::int64_t version = read_int(require_member(td, "version", td_at), td_at / "version");
  const auto changes = parse_changes(params, at);
  if (auto doc = scheduler_->snapshot(uri); doc && version <= doc->version())
    log_->warn("didChange for {}: version {} does not increase (was {})", uri, version, doc->version());
  Status st = scheduler_->change(uri, version, changes, client_.encoding);
  if (!st) {
    log_->error("didChange for {} rejected: {}", uri, st.message());
    log_message(1, "rapide: didChange for " + uri + " rejected: " + st.message());
    return;
  }
  assistant_->document_changed(uri);  // stale hovers dropped; a running generation kept or stopped
}

void LspServer::did_close(const nlohmann::json& params) {
  const std::string uri = parse_document_uri(params, JsonPath("params"));
  if (!scheduler_->close(uri)) log_->warn("didClose for '{}', which is not open", uri);
  assistant_->document_changed(uri);
}

void LspServer::did_change_configuration(const nlohmann::json& params) {
  const auto* settings = optional_member(params, "settings");
  const auto* section = settings ? optional_member(*settings, "rapide") : nullptr;
  if (section) return apply_settings_json(*section, "didChangeConfiguration");
  // Push-less clients send an empty change: pull the settings.
  if (client_.supportsConfiguration) request_configuration();
}

void LspServer::apply_settings_json(const nlohmann::json& section, const std::string& origin) {
  AssistantOptions opts = assistant_->options();
  try {
    apply_settings(opts.settings, section, JsonPath(origin + ".rapide"));
  } catch (const ParamsError& e) {
    log_->error("settings from {} rejected: {}", origin, e.what());
    show_message(1, std::string("rapide: settings rejected: ") + e.what());
    return;
  }
  assistant_->set_options(opts);
  log_->info("settings from {}: {}", origin, opts.settings.to_json().dump());
}

void LspServer::request_configuration() {
  const std::int64_t id = next_out_id_++;
  const nlohmann::json jid = "rapide-" + std::to_string(id);
  pending_out_[jid.dump()] = [this](const nlohmann::json& result, const nlohmann::json* err) {
    if (err) {
      log_->warn("workspace/configuration failed: {}", err->dump());
      return;
    }
    if (result.is_array() && !result.empty()) apply_settings_json(result.at(0), "workspace/configuration");
  };
  send(make_request(jid, "workspace/configuration", {{"items", {{{"section", "rapide"}}}}}));
}

void LspServer::cancel_request(const nlohmann::json& params) {
  const auto& id = require_member(params, "id", JsonPath("params"));
  const auto it = in_flight_.find(id.dump());
  if (it == in_flight_.end()) return;  // already answered: nothing to do (spec)
  log_->debug("cancel request {}", id.dump());
  it->second.cancel();
  scheduler_->drop_cancelled();  // a queued request is answered now, not when a worker frees up
}

void LspServer::show_message(int type, std::string message) {
  if (loop_.on_loop_thread()) {  // now, before a later 'exit' in the same read could drop it
    if (state_ != State::exited)
      send(make_notification("window/showMessage", {{"type", type}, {"message", message}}));
    return;
  }
  std::weak_ptr<bool> alive = alive_;
  loop_.post([this, alive, type, message = std::move(message)] {
    if (alive.expired() || state_ == State::exited) return;
    send(make_notification("window/showMessage", {{"type", type}, {"message", message}}));
  });
}

void LspServer::log_message(int type, std::string message) {
  if (loop_.on_loop_thread()) {  // now, before a later 'exit' in the same read could drop it
    if (state_ != State::exited)
      send(make_notification("window/logMessage", {{"type", type}, {"message", message}}));
    return;
  }
  std::weak_ptr<bool> alive = alive_;
  loop_.post([this, alive, type, message = std::move(message)] {
    if (alive.expired() || state_ == State::exited) return;
    send(make_notification("window/logMessage", {{"type", type}, {"message", message}}));
  });
}

void LspServer::progress_report(double fraction, std::string message) {
  std::weak_ptr<bool> alive = alive_;
  loop_.post([this, alive, fraction, message = std::move(message)] {
    if (alive.expired() || state_ != State::initialized || !client_.supportsWorkDoneProgress) return;
    if (!progress_token_) {
      progress_token_ = "rapide/modelLoad";  // editors/protocol.json progressToken
      const nlohmann::json jid = "rapide-" + std::to_string(next_out_id_++);
      pending_out_[jid.dump()] = [](const nlohmann::json&, const nlohmann::json*) {};
      send(make_request(jid, "window/workDoneProgress/create", {{"token", *progress_token_}}));
      send(make_notification("$/progress", {{"token", *progress_token_},
                                            {"value", {{"kind", "begin"}, {"title", "rapide: loading the model"},
                                                       {"cancellable", false}, {"percentage", 0}}}}));
    }
    send(make_notification("$/progress", {{"token", *progress_token_},
                                          {"value",
                                           {{"kind", "report"},
                                            {"message", message},
                                            {"percentage", static_cast<int>(fraction * 100)}}}}));
  });
}

void LspServer::progress_end(std::string message) {
  std::weak_ptr<bool> alive = alive_;
  loop_.post([this, alive, message = std::move(message)] {
    if (alive.expired() || !progress_token_ || state_ == State::exited) return;
    send(make_notification("$/progress", {{"token", *progress_token_}, {"value", {{"kind", "end"}, {"message", message}}}}));
    progress_token_.reset();
  });
}

void LspServer::on_model_done(const ModelStatus& st) {
  if (st.state == ModelStatus::State::ready) {
    log_->info("model ready: {}", st.path);
    progress_end("model ready");
    return;
  }
  const std::string text = "rapide: " + st.message +
                           ". Inline completions, fixes and hovers are off; the server keeps running.";
  progress_end("model failed to load");
  if (state_ == State::initialized) {
    show_message(1, text);
  } else {
    pending_model_message_ = text;
  }
}

nlohmann::json LspServer::status_json() const {
  const double uptime_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  // The flat shape of editors/protocol.json (state, model, device, memoryBytes, loadPercent,
  // lastLatencyMs, message) plus server details.
  nlohmann::json j = assistant_->model_status().to_json();
  j.update({
      {"server", server_info()},
      {"memoryBytes", resident_bytes()},
      {"positionEncoding", encoding_name(client_.encoding)},
      {"documents", scheduler_->document_count()},
      {"debounce", scheduler_->policy().describe()},
      {"settings", assistant_->options().settings.to_json()},
      {"lastLatencyMs",
       {{"inlineCompletion", metrics_.inline_latency.last_ms()},
        {"hover", metrics_.hover_latency.last_ms()},
        {"codeAction", metrics_.code_action_latency.last_ms()}}},
      {"uptimeSeconds", uptime_s},
  });
  return j;
}

}  // namespace rapide::lsp
