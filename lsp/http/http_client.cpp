// OpenAiClient: see rapide/lsp/http_client.h.
#include "rapide/lsp/http_client.h"

#include "http_io.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <sstream>

namespace rapide::lsp {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct OpenAiClient::Response {
  unsigned status = 0;
  std::string content_type;
  std::string body;
  bool stopped = false;  // cancelled, or on_body asked to stop
  bool deadline_hit = false;
};

Result<std::unique_ptr<OpenAiClient>> OpenAiClient::create(std::string base_url, std::string api_key,
                                                           OpenAiClientOptions options) {
  std::unique_ptr<OpenAiClient> c(new OpenAiClient());
  while (!base_url.empty() && base_url.back() == '/') base_url.pop_back();
  c->base_url_ = base_url;
  c->api_key_ = std::move(api_key);
  c->options_ = options;
  const std::string scheme = "http://";
  if (base_url.rfind("https://", 0) == 0)
    return error("backend URL '", base_url,
                 "': https is not supported; use http:// on a trusted network or a local TLS-terminating proxy");
  if (base_url.rfind(scheme, 0) != 0)
    return error("backend URL '", base_url, "': expected http://host[:port]/v1");
  std::string rest = base_url.substr(scheme.size());
  const auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  c->path_ = slash == std::string::npos ? std::string() : rest.substr(slash);
  if (authority.empty()) return error("backend URL '", base_url, "': missing host");
  if (authority.front() == '[') {  // [v6]:port
    const auto close = authority.find(']');
    if (close == std::string::npos) return error("backend URL '", base_url, "': unclosed '[' in the host");
    c->host_ = authority.substr(1, close - 1);
    c->port_ = close + 1 < authority.size() && authority[close + 1] == ':' ? authority.substr(close + 2) : "80";
  } else {
    const auto colon = authority.rfind(':');
    c->host_ = authority.substr(0, colon);
    c->port_ = colon == std::string::npos ? "80" : authority.substr(colon + 1);
  }
  if (c->host_.empty()) return error("backend URL '", base_url, "': missing host");
  if (c->port_.empty() || c->port_.find_first_not_of("0123456789") != std::string::npos || c->port_.size() > 5 ||
      std::stoi(c->port_) == 0 || std::stoi(c->port_) > 65535)
    return error("backend URL '", base_url, "': port must be a number in 1..65535, got '", c->port_, "'");
  return c;
}

Result<OpenAiClient::Response> OpenAiClient::exchange(
    const std::string& method, const std::string& path, const std::string& body,
    const std::function<bool(const std::string&, bool)>& on_body, const inference::engine::CancelToken& cancel,
    std::optional<Clock::time_point> call_deadline) const {
  const std::string url = base_url_ + path;
  asio::io_context io;
  tcp::resolver resolver{io};
  boost::system::error_code ec;
  const auto endpoints = resolver.resolve(host_, port_, ec);
  if (ec) return error("backend ", url, " is unreachable: cannot resolve host '", host_, "': ", ec.message());
  tcp::socket socket{io};
  std::string connect_error = "no address";
  bool connected = false;
  for (const auto& entry : endpoints) {
    boost::system::error_code e;
    socket.close(e);
    socket.open(entry.endpoint().protocol(), e);
    if (e) {
      connect_error = e.message();
      continue;
    }
    socket.non_blocking(true, e);
    socket.connect(entry.endpoint(), e);
    if (e == asio::error::in_progress || e == asio::error::would_block) {
      const auto deadline = Clock::now() + options_.connect_timeout;
      for (;;) {
        if (cancel.cancelled()) {
          Response r;
          r.stopped = true;
          return r;
        }
        pollfd p{socket.native_handle(), POLLOUT, 0};
        const int pr = ::poll(&p, 1, 20);
        if (pr > 0) {
          int so_error = 0;
          socklen_t len = sizeof so_error;
          ::getsockopt(socket.native_handle(), SOL_SOCKET, SO_ERROR, &so_error, &len);
          e = boost::system::error_code(so_error, boost::system::system_category());
          break;
        }
        if (Clock::now() >= deadline) {
          e = asio::error::timed_out;
          break;
        }
      }
    }
    if (e) {
      connect_error = e.message();
      continue;
    }
    socket.non_blocking(false, e);
    connected = true;
    break;
  }
  if (!connected)
    return error("backend ", url, " is unreachable (", host_, ":", port_, "): ", connect_error,
                 "; is the server running? (start one with `rapide serve-http --model F`)");
  socket.set_option(tcp::no_delay(true), ec);

  http::request<http::string_body> req{method == "POST" ? http::verb::post : http::verb::get, path_ + path, 11};
  req.set(http::field::host, host_ + ":" + port_);
  req.set(http::field::user_agent, "rapide");
  req.set(http::field::accept, "application/json, text/event-stream");
  if (!api_key_.empty()) req.set(http::field::authorization, "Bearer " + api_key_);
  if (method == "POST") {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.keep_alive(false);
  req.prepare_payload();
  std::ostringstream os;
  os << req;
  if (!http_detail::write_all(socket, os.str())) return error("backend ", url, ": connection lost while sending the request");

  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);
  parser.eager(true);
  Response out;
  std::string buffer;
  auto deadline = Clock::now() + options_.response_timeout;
  const bool call_deadline_first = call_deadline && *call_deadline < deadline;
  if (call_deadline_first) deadline = *call_deadline;
  bool eof = false;
  for (;;) {
    while (!buffer.empty() && !parser.is_done()) {
      const std::size_t used = parser.put(asio::buffer(buffer), ec);
      buffer.erase(0, used);
      if (ec == http::error::need_more) {
        ec = {};
        break;
      }
      if (ec) return error("backend ", url, ": malformed HTTP response: ", ec.message());
      if (used == 0) break;
    }
    if (parser.is_header_done() && out.status == 0) {
      out.status = parser.get().result_int();
      out.content_type = std::string(parser.get()[http::field::content_type]);
    }
    if (parser.is_header_done() && out.status == 200 && on_body) {
      const bool sse = out.content_type.find("text/event-stream") != std::string::npos;
      if (!on_body(parser.get().body(), sse)) {
        out.stopped = true;
        return out;  // the socket closes here: the server sees the client leave
      }
    }
    if (parser.is_done()) break;
    if (eof) {
      parser.put_eof(ec);
      if (ec) return error("backend ", url, ": connection closed before the response ended");
      continue;
    }
    // Checked here too: while tokens keep arriving, read_some returns at once without polling it.
    if (cancel.cancelled()) {
      out.stopped = true;
      return out;
    }
    const auto got = http_detail::read_some(socket, buffer, deadline, [&] { return cancel.cancelled(); });
    if (got == http_detail::ReadOutcome::STOPPED) {
      out.stopped = true;
      return out;
    }
    if (got == http_detail::ReadOutcome::TIMEOUT && call_deadline_first) {
      out.stopped = true;
      out.deadline_hit = true;
      return out;
    }
    if (got == http_detail::ReadOutcome::TIMEOUT)
      return error("backend ", url, ": no complete response within ", options_.response_timeout.count(), " ms");
    if (got == http_detail::ReadOutcome::CLOSED) eof = true;
    if (got == http_detail::ReadOutcome::ERROR) return error("backend ", url, ": connection reset by the server");
  }
  out.body = parser.get().body();
  return out;
}

namespace {

std::string server_error_message(unsigned status, const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object()) {
    auto it = j.find("error");
    if (it != j.end()) {
      if (it->is_object() && it->contains("message") && (*it)["message"].is_string())
        return (*it)["message"].get<std::string>();
      if (it->is_string()) return it->get<std::string>();
    }
    if (j.contains("message") && j["message"].is_string()) return j["message"].get<std::string>();
  }
  std::string b = body.substr(0, 200);
  return "HTTP " + std::to_string(status) + (b.empty() ? "" : ": " + b);
}

// Applies one completion object (a stream chunk or the whole response) to the result.
Status apply_chunk(const json& j, RemoteCompletionResult& res, std::string& piece) {
  if (!j.is_object()) return error("expected a JSON object, got ", j.type_name());
  if (auto e = j.find("error"); e != j.end() && !e->is_null())
    return error("server error: ", e->is_object() && e->contains("message") ? (*e)["message"].dump() : e->dump());
  auto ch = j.find("choices");
  if (ch == j.end() || !ch->is_array()) return error("response has no 'choices' array");
  if (!ch->empty()) {
    const json& c = (*ch)[0];
    if (!c.is_object()) return error("'choices[0]' is not an object");
    if (auto t = c.find("text"); t != c.end() && t->is_string()) piece = t->get<std::string>();
    if (auto f = c.find("finish_reason"); f != c.end() && f->is_string()) res.finish_reason = f->get<std::string>();
  }
  if (auto u = j.find("usage"); u != j.end() && u->is_object()) {
    if (u->contains("prompt_tokens") && (*u)["prompt_tokens"].is_number_integer())
      res.prompt_tokens = (*u)["prompt_tokens"].get<std::int64_t>();
    if (u->contains("completion_tokens") && (*u)["completion_tokens"].is_number_integer())
      res.completion_tokens = (*u)["completion_tokens"].get<std::int64_t>();
  }
  return {};
}

}  // namespace

Result<RemoteCompletionResult> OpenAiClient::complete(const RemoteCompletionRequest& request, const OnText& on_text,
                                                      const inference::engine::CancelToken& cancel) const {
  std::string model = request.model;
  if (model.empty()) {
    auto ids = models(cancel, request.deadline);
    if (!ids) return ids.error();
    if (ids->empty()) return error("backend ", base_url_, "/models lists no model");
    model = ids->front();
  }
  json body = {{"model", model},           {"prompt", request.prompt},   {"max_tokens", request.max_tokens},
               {"temperature", request.temperature}, {"top_p", request.top_p}, {"stream", request.stream},
               {"n", 1}};
  if (request.suffix) body["suffix"] = *request.suffix;
  if (!request.stop.empty()) body["stop"] = request.stop;
  if (request.seed) body["seed"] = *request.seed;

  RemoteCompletionResult res;
  std::size_t consumed = 0;
  Status stream_error;
  bool done = false;
  auto on_body = [&](const std::string& so_far, bool sse) -> bool {
    if (!sse) return true;  // a plain JSON answer: parsed at the end
    for (;;) {
      // Events end with a blank line ("\n\n"; "\r\n\r\n" is normalised by looking for both).
      std::size_t end = so_far.find("\n\n", consumed);
      std::size_t end_crlf = so_far.find("\r\n\r\n", consumed);
      std::size_t sep = 2;
      if (end_crlf != std::string::npos && (end == std::string::npos || end_crlf < end)) {
        end = end_crlf;
        sep = 4;
      }
      if (end == std::string::npos) return true;
      std::string event = so_far.substr(consumed, end - consumed);
      consumed = end + sep;
      std::string data;
      std::istringstream lines(event);
      for (std::string line; std::getline(lines, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.rfind("data:", 0) == 0) {
          std::string d = line.substr(5);
          if (!d.empty() && d.front() == ' ') d.erase(0, 1);
          data += d;
        }
      }
      if (data.empty()) continue;
      if (data == "[DONE]") {
        done = true;
        return true;
      }
      json j = json::parse(data, nullptr, false);
      if (j.is_discarded()) {
        stream_error = error("backend ", base_url_, ": stream event is not JSON: ", data.substr(0, 200));
        return false;
      }
      std::string piece;
      if (Status s = apply_chunk(j, res, piece); !s) {
        stream_error = error("backend ", base_url_, ": ", s.message());
        return false;
      }
      if (!piece.empty()) {
        res.text += piece;
        if (on_text && !on_text(piece)) {
          res.cancelled = true;
          return false;
        }
      }
    }
  };
  auto resp = exchange("POST", "/completions", body.dump(), on_body, cancel, request.deadline);
  if (!resp) return resp.error();
  if (!stream_error) return stream_error.error();
  if (resp->deadline_hit) {
    res.deadline_hit = true;
    return res;
  }
  if (resp->stopped) {
    res.cancelled = true;
    return res;
  }
  if (resp->status != 200)
    return error("backend ", base_url_, "/completions: HTTP ", resp->status, ": ",
                 server_error_message(resp->status, resp->body));
  if (resp->content_type.find("text/event-stream") == std::string::npos) {
    json j = json::parse(resp->body, nullptr, false);
    if (j.is_discarded()) return error("backend ", base_url_, "/completions: response is not JSON");
    std::string piece;
    if (Status s = apply_chunk(j, res, piece); !s) return error("backend ", base_url_, "/completions: ", s.message());
    res.text = piece;
    if (on_text && !piece.empty()) on_text(piece);
  } else if (!done && res.finish_reason.empty()) {
    return error("backend ", base_url_, "/completions: the stream ended without a finish_reason or [DONE]");
  }
  return res;
}

Result<std::vector<std::string>> OpenAiClient::models(const inference::engine::CancelToken& cancel,
                                                      std::optional<std::chrono::steady_clock::time_point> deadline) const {
  auto resp = exchange("GET", "/models", {}, {}, cancel, deadline);
  if (!resp) return resp.error();
  if (resp->stopped) return error("backend ", base_url_, "/models: cancelled");
  if (resp->deadline_hit) return error("backend ", base_url_, "/models: no answer before the deadline");
  if (resp->status != 200)
    return error("backend ", base_url_, "/models: HTTP ", resp->status, ": ", server_error_message(resp->status, resp->body));
  json j = json::parse(resp->body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("data") || !j["data"].is_array())
    return error("backend ", base_url_, "/models: expected {\"data\": [...]}, got ", resp->body.substr(0, 200));
  std::vector<std::string> ids;
  for (const auto& m : j["data"])
    if (m.is_object() && m.contains("id") && m["id"].is_string()) ids.push_back(m["id"].get<std::string>());
  return ids;
}

}  // namespace rapide::lsp
