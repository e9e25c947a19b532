// HttpServer: see rapide/lsp/http_server.h.
#include "rapide/lsp/http_server.h"

#include "http_io.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <future>
#include <list>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

namespace rapide::lsp {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace eng = inference::engine;
using tcp = asio::ip::tcp;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

struct HttpError {
  http::status status;
  std::string message;
  std::string type;
};

std::string error_body(const std::string& message, const std::string& type) {
  return json{{"error", {{"message", message}, {"type", type}}}}.dump() + "\n";
}

std::string make_response(http::status status, const std::string& body, bool keep_alive,
                          const char* content_type = "application/json") {
  http::response<http::string_body> res{status, 11};
  res.set(http::field::server, "rapide");
  res.set(http::field::content_type, content_type);
  res.keep_alive(keep_alive);
  res.body() = body;
  res.prepare_payload();
  std::ostringstream out;
  out << res;
  return out.str();
}

std::string finish_reason(eng::Finish f) {
  switch (f) {
    case eng::Finish::LENGTH: return "length";
    case eng::Finish::STOP_TOKEN:
    case eng::Finish::STOP_STRING:
    case eng::Finish::CALLBACK: return "stop";
    case eng::Finish::CANCELLED: return "cancelled";
    case eng::Finish::DEADLINE: return "timeout";
    case eng::Finish::ERROR: return "error";
  }
  return "stop";
}

// A parsed /v1/completions request.
struct CompletionArgs {
  std::string model;
  std::string prompt;
  std::optional<std::string> suffix;
  std::int32_t max_tokens = 16;
  float temperature = 1.0f;
  float top_p = 1.0f;
  std::vector<std::string> stop;
  std::optional<std::uint64_t> seed;
  bool stream = false;
};

std::optional<HttpError> bad(std::string message) {
  return HttpError{http::status::bad_request, std::move(message), "invalid_request_error"};
}

std::optional<HttpError> parse_completion(const std::string& body, std::int32_t max_tokens_limit,
                                          CompletionArgs& a) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return bad("request body is not valid JSON");
  if (!j.is_object()) return bad(std::string("request body must be a JSON object, got ") + j.type_name());
  auto field = [&](const char* name) -> const json* {
    auto it = j.find(name);
    return it == j.end() || it->is_null() ? nullptr : &*it;
  };
  if (const json* v = field("model")) {
    if (!v->is_string()) return bad(std::string("'model' must be a string, got ") + v->type_name());
    a.model = v->get<std::string>();
  }
  const json* prompt = field("prompt");
  if (!prompt) return bad("missing required field 'prompt' (a string)");
  if (prompt->is_string()) {
    a.prompt = prompt->get<std::string>();
  } else if (prompt->is_array() && prompt->size() == 1 && (*prompt)[0].is_string()) {
    a.prompt = (*prompt)[0].get<std::string>();
  } else {
    return bad(std::string("'prompt' must be a string (or an array of one string), got ") + prompt->type_name());
  }
  if (const json* v = field("suffix")) {
    if (!v->is_string()) return bad(std::string("'suffix' must be a string, got ") + v->type_name());
    a.suffix = v->get<std::string>();
  }
  if (const json* v = field("max_tokens")) {
    if (!v->is_number_integer()) return bad(std::string("'max_tokens' must be an integer, got ") + v->dump());
    const auto n = v->get<std::int64_t>();
    if (n < 0 || n > max_tokens_limit)
      return bad("'max_tokens' must be in [0, " + std::to_string(max_tokens_limit) + "], got " + std::to_string(n));
    a.max_tokens = static_cast<std::int32_t>(n);
  }
  if (const json* v = field("temperature")) {
    if (!v->is_number()) return bad(std::string("'temperature' must be a number, got ") + v->dump());
    const double t = v->get<double>();
    if (!(t >= 0.0 && t <= 2.0)) return bad("'temperature' must be in [0, 2], got " + v->dump());
    a.temperature = static_cast<float>(t);
  }
  if (const json* v = field("top_p")) {
    if (!v->is_number()) return bad(std::string("'top_p' must be a number, got ") + v->dump());
    const double p = v->get<double>();
    if (!(p > 0.0 && p <= 1.0)) return bad("'top_p' must be in (0, 1], got " + v->dump());
    a.top_p = static_cast<float>(p);
  }
  if (const json* v = field("stop")) {
    if (v->is_string()) {
      a.stop.push_back(v->get<std::string>());
    } else if (v->is_array()) {
      if (v->size() > 4) return bad("'stop' may hold at most 4 strings, got " + std::to_string(v->size()));
      for (const auto& s : *v) {
        if (!s.is_string()) return bad("'stop' must be a string or an array of strings, got element " + s.dump());
        a.stop.push_back(s.get<std::string>());
      }
    } else {
      return bad(std::string("'stop' must be a string or an array of strings, got ") + v->type_name());
    }
    for (const auto& s : a.stop)
      if (s.empty()) return bad("'stop' strings must not be empty");
  }
  if (const json* v = field("seed")) {
    if (!v->is_number_integer()) return bad(std::string("'seed' must be an integer, got ") + v->dump());
    a.seed = v->is_number_unsigned() ? v->get<std::uint64_t>() : static_cast<std::uint64_t>(v->get<std::int64_t>());
  }
  if (const json* v = field("stream")) {
    if (!v->is_boolean()) return bad(std::string("'stream' must be a boolean, got ") + v->dump());
    a.stream = v->get<bool>();
  }
  if (const json* v = field("n")) {
    if (!v->is_number_integer() || v->get<std::int64_t>() != 1) return bad("only 'n': 1 is supported, got " + v->dump());
  }
  return std::nullopt;
}

// Text pieces handed from the engine's worker thread to the connection thread.
struct StreamQueue {
  std::mutex mutex;
  std::condition_variable cv;
  std::string pending;
  bool done = false;
};

}  // namespace

struct HttpServer::Impl {
  HttpServer* self = nullptr;
  eng::Engine* engine = nullptr;
  HttpServerOptions opts;
  std::optional<eng::FimTemplate> fim;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::atomic<bool> stopping{false};
  std::atomic<int> connections{0};
  std::atomic<int> open_requests{0};  // completions being answered (queued or generating)
  std::atomic<std::uint64_t> next_id{1};
  struct Connection {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::mutex threads_mutex;
  std::list<Connection> threads;

  void join_all() {
    std::list<Connection> all;
    {
      std::lock_guard lock(threads_mutex);
      all.swap(threads);
    }
    for (auto& c : all)
      if (c.thread.joinable()) c.thread.join();
  }

  void serve_connection(tcp::socket socket);
  // Returns the bytes to send and whether to keep the connection; streams itself when needed
  // (then returns an empty string).
  std::string handle(http::request<http::string_body>& req, tcp::socket& socket, bool& keep_alive);
  std::string completions(const std::string& body, tcp::socket& socket, bool& keep_alive);
};

Result<std::unique_ptr<HttpServer>> HttpServer::create(eng::Engine& engine, HttpServerOptions options) {
  std::unique_ptr<HttpServer> s(new HttpServer());
  s->impl_ = std::make_unique<Impl>();
  Impl& im = *s->impl_;
  im.self = s.get();
  im.engine = &engine;
  im.opts = std::move(options);
  auto fim = eng::FimTemplate::from_tokenizer(
      std::shared_ptr<const inference::Tokenizer>(std::shared_ptr<const inference::Tokenizer>{}, &engine.tokenizer()));
  if (fim) im.fim = std::move(*fim);
  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(im.opts.host, ec);
  if (ec) return error("serve-http: listen address '", im.opts.host, "' is not an IP address (", ec.message(), ")");
  const tcp::endpoint ep{addr, im.opts.port};
  im.acceptor.open(ep.protocol(), ec);
  if (!ec) im.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) im.acceptor.bind(ep, ec);
  if (!ec) im.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return error("serve-http: cannot listen on ", im.opts.host, ":", static_cast<int>(im.opts.port), ": ", ec.message());
  return s;
}

HttpServer::~HttpServer() {
  stop();
  impl_->join_all();
}

std::uint16_t HttpServer::port() const {
  boost::system::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

void HttpServer::stop() {
  impl_->stopping.store(true);
}

void HttpServer::run() {
  Impl& im = *impl_;
  while (!im.stopping.load()) {
    tcp::socket socket{im.io};
    // Wait for a connection in slices so that stop() is noticed.
    pollfd p{im.acceptor.native_handle(), POLLIN, 0};
    const int r = ::poll(&p, 1, 100);
    if (r <= 0) continue;
    boost::system::error_code ec;
    im.acceptor.accept(socket, ec);
    if (ec) continue;
    socket.set_option(tcp::no_delay(true), ec);
    if (im.connections.load() >= im.opts.max_connections) {
      http_detail::write_all(socket, make_response(http::status::service_unavailable,
                                                   error_body("too many connections (limit " +
                                                                  std::to_string(im.opts.max_connections) + ")",
                                                              "server_busy"),
                                                   false));
      continue;
    }
    im.connections.fetch_add(1);
    std::lock_guard lock(im.threads_mutex);
    // Join the connections that have finished.
    for (auto it = im.threads.begin(); it != im.threads.end();) {
      if (it->done->load()) {
        it->thread.join();
        it = im.threads.erase(it);
      } else {
        ++it;
      }
    }
    auto done = std::make_shared<std::atomic<bool>>(false);
    im.threads.push_back(Impl::Connection{std::thread([&im, done, s = std::move(socket)]() mutable {
                                      im.serve_connection(std::move(s));
                                      im.connections.fetch_sub(1);
                                      done->store(true);
                                    }),
                                    done});
  }
  im.join_all();
}

void HttpServer::Impl::serve_connection(tcp::socket socket) {
  std::string buffer;  // bytes read and not yet parsed
  bool first = true;
  while (!stopping.load()) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(opts.max_body_bytes);
    parser.header_limit(16 * 1024);
    parser.eager(true);
    const auto start = Clock::now();
    // The first byte of a request may take up to idle_timeout (read_timeout on a fresh connection);
    // the rest of the request must arrive within read_timeout of its first byte.
    Clock::time_point deadline = start + (first ? opts.read_timeout : opts.idle_timeout);
    bool started = !buffer.empty();
    if (started) deadline = start + opts.read_timeout;
    std::optional<HttpError> failure;
    for (;;) {
      if (!buffer.empty()) {
        boost::system::error_code ec;
        const std::size_t used = parser.put(asio::buffer(buffer), ec);
        buffer.erase(0, used);
        if (ec == http::error::need_more) {
          ec = {};
        } else if (ec == http::error::body_limit) {
          failure = HttpError{http::status::payload_too_large,
                              "request body exceeds the limit of " + std::to_string(opts.max_body_bytes) + " bytes",
                              "invalid_request_error"};
          break;
        } else if (ec == http::error::header_limit) {
          failure = HttpError{http::status::request_header_fields_too_large, "request headers exceed 16 KiB",
                              "invalid_request_error"};
          break;
        } else if (ec) {
          failure = HttpError{http::status::bad_request, "malformed HTTP request: " + ec.message(),
                              "invalid_request_error"};
          break;
        }
        if (parser.is_done()) break;
        if (used > 0) continue;
      }
      const auto got = http_detail::read_some(socket, buffer, deadline, [this] { return stopping.load(); });
      if (got == http_detail::ReadOutcome::DATA) {
        if (!started) {
          started = true;
          deadline = Clock::now() + opts.read_timeout;
        }
        continue;
      }
      if (got == http_detail::ReadOutcome::TIMEOUT && started) {
        failure = HttpError{http::status::request_timeout,
                            "request not received within " + std::to_string(opts.read_timeout.count()) + " ms",
                            "timeout"};
        break;
      }
      return;  // closed, idle timeout, stop or error: drop the connection
    }
    first = false;
    if (failure) {
      http_detail::write_all(socket, make_response(failure->status, error_body(failure->message, failure->type), false));
      boost::system::error_code ec;
      socket.shutdown(tcp::socket::shutdown_send, ec);
      // Lingering close: read (and drop) what the client still sends, for a moment, so that closing
      // with unread bytes does not reset the connection before the client has read the error.
      const auto linger_until = Clock::now() + std::chrono::seconds(2);
      std::string sink;
      std::size_t dropped = 0;
      while (dropped < (8u << 20)) {
        sink.clear();
        if (http_detail::read_some(socket, sink, linger_until, [this] { return stopping.load(); }) !=
            http_detail::ReadOutcome::DATA)
          break;
        dropped += sink.size();
      }
      return;
    }
    http::request<http::string_body> req = parser.release();
    bool keep_alive = req.keep_alive();
    const std::string out = handle(req, socket, keep_alive);
    if (!out.empty() && !http_detail::write_all(socket, out)) return;
    self->served_.fetch_add(1);
    if (!keep_alive) {
      boost::system::error_code ec;
      socket.shutdown(tcp::socket::shutdown_send, ec);
      return;
    }
  }
}

std::string HttpServer::Impl::handle(http::request<http::string_body>& req, tcp::socket& socket, bool& keep_alive) {
  const std::string target(req.target());
  const std::string path = target.substr(0, target.find('?'));
  auto fail = [&](http::status st, const std::string& msg, const std::string& type) {
    return make_response(st, error_body(msg, type), keep_alive);
  };
  if (path == "/health") {
    if (req.method() != http::verb::get)
      return fail(http::status::method_not_allowed, "method " + std::string(req.method_string()) + " not allowed on /health (use GET)", "invalid_request_error");
    const json h = {{"status", "ok"},
                    {"model", opts.model_name},
                    {"served", self->served_.load()},
                    {"cancelled", self->cancelled_.load()},
                    {"open_requests", open_requests.load()},
                    {"connections", connections.load()}};
    return make_response(http::status::ok, h.dump() + "\n", keep_alive);
  }
  const bool known = path == "/v1/models" || path == "/v1/completions";
  if (!known) return fail(http::status::not_found, "unknown path '" + path + "' (try POST /v1/completions, GET /v1/models, GET /health)", "not_found_error");
  if (!opts.api_key.empty()) {
    const auto auth = req[http::field::authorization];
    if (auth != "Bearer " + opts.api_key)
      return fail(http::status::unauthorized,
                  auth.empty() ? "missing 'Authorization: Bearer <key>' header" : "invalid API key",
                  "authentication_error");
  }
  if (path == "/v1/models") {
    if (req.method() != http::verb::get)
      return fail(http::status::method_not_allowed, "method " + std::string(req.method_string()) + " not allowed on /v1/models (use GET)", "invalid_request_error");
    json m = {{"id", opts.model_name}, {"object", "model"}, {"created", 0}, {"owned_by", "rapide"}};
    return make_response(http::status::ok, json{{"object", "list"}, {"data", json::array({m})}}.dump() + "\n", keep_alive);
  }
  if (req.method() != http::verb::post)
    return fail(http::status::method_not_allowed, "method " + std::string(req.method_string()) + " not allowed on /v1/completions (use POST)", "invalid_request_error");
  return completions(req.body(), socket, keep_alive);
}

std::string HttpServer::Impl::completions(const std::string& body, tcp::socket& socket, bool& keep_alive) {
  open_requests.fetch_add(1);
  struct Leave {
    std::atomic<int>& n;
    ~Leave() { n.fetch_sub(1); }
  } leave{open_requests};
  CompletionArgs a;
  if (auto err = parse_completion(body, opts.max_tokens_limit, a))
    return make_response(err->status, error_body(err->message, err->type), keep_alive);
  const inference::Tokenizer& tok = engine->tokenizer();
  eng::GenerateRequest r;
  if (a.suffix) {
    if (!fim)
      return make_response(http::status::bad_request,
                           error_body("'suffix' (fill-in-the-middle) needs a model with FIM tokens; model '" +
                                          opts.model_name + "' has none",
                                      "invalid_request_error"),
                           keep_alive);
    eng::FimInput in;
    in.prefix = a.prompt;
    in.suffix = *a.suffix;
    r.prompt = fim->build(in, eng::FimOrder::PSM).tokens;
    r.stop_tokens = fim->stop_tokens();
  } else {
    // parse_special: control-token texts in the prompt (<|fim_prefix|>, <|file_sep|> ...) become
    // their ids, as llama.cpp's server and vLLM do, so a client can send a complete FIM prompt.
    r.prompt = tok.encode(a.prompt, true, true);
    // A FIM prompt laid out by the client ends at the model's FIM stop tokens (file separator,
    // FIM markers, padding), as a "suffix" request does and as llama.cpp's server treats them.
    if (fim && tok.fim_mid() >= 0 && std::find(r.prompt.begin(), r.prompt.end(), tok.fim_mid()) != r.prompt.end())
      r.stop_tokens = fim->stop_tokens();
  }
  if (r.prompt.empty())
    return make_response(http::status::bad_request, error_body("'prompt' is empty and the model adds no BOS token", "invalid_request_error"), keep_alive);
  const std::int32_t n_ctx = engine->options().n_ctx;
  if (static_cast<std::int32_t>(r.prompt.size()) >= n_ctx)
    return make_response(http::status::bad_request,
                         error_body("prompt has " + std::to_string(r.prompt.size()) + " tokens; the context holds " +
                                        std::to_string(n_ctx),
                                    "invalid_request_error"),
                         keep_alive);
  r.max_tokens = a.max_tokens;
  r.sampling.temperature = a.temperature;
  r.sampling.top_p = a.top_p;
  r.sampling.seed = a.seed ? *a.seed : std::random_device{}();
  r.stop_strings = a.stop;
  r.priority = eng::priority::kBackground;

  const std::string id = "cmpl-" + std::to_string(next_id.fetch_add(1));
  const auto created = static_cast<std::int64_t>(std::time(nullptr));
  const std::string model = a.model.empty() ? opts.model_name : a.model;
  auto chunk_json = [&](const std::string& text, const json& finish) {
    json c = {{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", model},
              {"choices", json::array({json{{"text", text}, {"index", 0}, {"logprobs", nullptr}, {"finish_reason", finish}}})}};
    return c;
  };

  auto queue = std::make_shared<StreamQueue>();
  if (a.stream) {
    r.on_token = [queue](const eng::TokenEvent& ev) {
      if (!ev.text.empty()) {
        std::lock_guard lock(queue->mutex);
        queue->pending.append(ev.text);
      }
      queue->cv.notify_one();
      return true;
    };
  }
  eng::CancelToken cancel = r.cancel;
  std::future<eng::GenerateResult> fut = engine->submit(std::move(r));

  std::string streamed;
  bool client_gone = false;
  if (a.stream) {
    http::response<http::empty_body> head{http::status::ok, 11};
    head.set(http::field::server, "rapide");
    head.set(http::field::content_type, "text/event-stream");
    head.set(http::field::cache_control, "no-cache");
    head.keep_alive(false);
    std::ostringstream hs;
    hs << head;
    std::string header = hs.str();
    keep_alive = false;
    if (!http_detail::write_all(socket, header)) client_gone = true;
  }
  while (fut.wait_for(std::chrono::milliseconds(a.stream ? 0 : 20)) != std::future_status::ready) {
    if (!client_gone && http_detail::peer_closed(socket)) client_gone = true;
    if (client_gone) {
      cancel.cancel();
      break;
    }
    if (!a.stream) continue;
    std::string piece;
    {
      std::unique_lock lock(queue->mutex);
      queue->cv.wait_for(lock, std::chrono::milliseconds(20), [&] { return !queue->pending.empty(); });
      piece.swap(queue->pending);
    }
    if (piece.empty()) continue;
    streamed += piece;
    if (!http_detail::write_all(socket, "data: " + chunk_json(piece, nullptr).dump() + "\n\n")) client_gone = true;
  }
  eng::GenerateResult res = fut.get();
  if (client_gone || res.finish == eng::Finish::CANCELLED) {
    self->cancelled_.fetch_add(1);
    keep_alive = false;
    return {};
  }
  if (res.finish == eng::Finish::ERROR) {
    const std::string msg = error_body("generation failed: " + res.error, "server_error");
    if (a.stream) {
      http_detail::write_all(socket, "data: " + msg + "\n");
      return {};
    }
    return make_response(http::status::internal_server_error, msg, keep_alive);
  }
  const json usage = {{"prompt_tokens", res.prompt_tokens},
                      {"completion_tokens", static_cast<std::int64_t>(res.tokens.size())},
                      {"total_tokens", res.prompt_tokens + static_cast<std::int64_t>(res.tokens.size())}};
  if (a.stream) {
    {
      std::lock_guard lock(queue->mutex);
      streamed += queue->pending;
      if (!queue->pending.empty()) {
        const std::string piece = std::move(queue->pending);
        if (!http_detail::write_all(socket, "data: " + chunk_json(piece, nullptr).dump() + "\n\n")) return {};
      }
    }
    // Text the engine held back (stop-string prefixes that did not complete) comes at the end.
    std::string tail;
    if (res.text.size() > streamed.size() && res.text.compare(0, streamed.size(), streamed) == 0)
      tail = res.text.substr(streamed.size());
    json last = chunk_json(tail, finish_reason(res.finish));
    last["usage"] = usage;
    http_detail::write_all(socket, "data: " + last.dump() + "\n\ndata: [DONE]\n\n");
    return {};
  }
  json out = chunk_json(res.text, finish_reason(res.finish));
  out["usage"] = usage;
  return make_response(http::status::ok, out.dump() + "\n", keep_alive);
}

}  // namespace rapide::lsp
