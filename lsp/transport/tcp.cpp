// TCP transport on Boost.Asio: listens (loopback by default), accepts one client, optionally
// checks a shared-secret token line, then frames messages exactly like stdio.
#include "asio_loop.h"
#include "rapide/lsp/transport.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <charconv>
#include <deque>

namespace rapide::lsp {
namespace {

using boost::asio::ip::tcp;

class TcpTransport : public Transport {
 public:
  TcpTransport(EventLoop& loop, TcpOptions options, tcp::acceptor acceptor)
      : options_(std::move(options)), acceptor_(std::move(acceptor)), socket_(loop.impl().io),
        flush_timer_(loop.impl().io), reader_(options_.max_body_bytes) {}

  void start(TransportHandler handler) override {
    handler_ = std::move(handler);
    acceptor_.async_accept(socket_, [this](const boost::system::error_code& ec) {
      if (ec) return finish("accept failed: " + ec.message());
      boost::system::error_code ignored;
      acceptor_.close(ignored);  // one client per server
      if (!options_.token.empty()) return read_token();
      read_more();
    });
    if (options_.on_listening) options_.on_listening(acceptor_.local_endpoint().port());
  }

  void send(std::string body) override {
    if (closed_ || flushing_ || !socket_.is_open()) return;
    outbox_.push_back(frame_message(body));
    if (outbox_.size() == 1) write_next();
  }

  void close() override {
    closed_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    socket_.close(ignored);
  }

  // The replies queued ahead of `exit` (shutdown's, rapide/status's) are written before the
  // socket closes: async writes would otherwise be dropped with the socket.
  void close_after_flush(std::function<void()> done, std::chrono::milliseconds limit) override {
    if (closed_ || outbox_.empty() || !socket_.is_open()) {
      close();
      return done();
    }
    flushing_ = true;
    on_flushed_ = std::move(done);
    flush_timer_.expires_after(limit);
    flush_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) end_flush();  // the peer does not read: give up
    });
  }

  std::string describe() const override {
    return "tcp " + options_.host + ":" + std::to_string(acceptor_.is_open() ? acceptor_.local_endpoint().port() : options_.port);
  }

 private:
  void read_token() {
    boost::asio::async_read_until(socket_, token_buf_, '\n', [this](const boost::system::error_code& ec, std::size_t n) {
      if (ec) return finish("connection closed before the token line: " + ec.message());
      std::string line(static_cast<const char*>(token_buf_.data().data()), n);
      token_buf_.consume(n);
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
      if (line != "token " + options_.token) {
        boost::system::error_code ignored;
        socket_.close(ignored);
        return finish("client sent a wrong or missing token line; connection refused");
      }
      // Bytes read past the newline belong to the first message.
      if (token_buf_.size() > 0) {
        std::string rest(static_cast<const char*>(token_buf_.data().data()), token_buf_.size());
        token_buf_.consume(token_buf_.size());
        deliver(rest);
      }
      read_more();
    });
  }

  void read_more() {
    socket_.async_read_some(boost::asio::buffer(chunk_), [this](const boost::system::error_code& ec, std::size_t n) {
      if (ec) return finish(ec == boost::asio::error::eof ? std::string("client disconnected")
                                                          : "read error: " + ec.message());
      deliver(std::string_view(chunk_.data(), n));
      if (!closed_) read_more();
    });
  }

  void deliver(std::string_view bytes) {
    reader_.feed(bytes);
    while (auto e = reader_.next()) {
      if (closed_ || flushing_) return;
      handler_.on_frame(std::move(*e));
    }
  }

  void write_next() {
    boost::asio::async_write(socket_, boost::asio::buffer(outbox_.front()),
                             [this](const boost::system::error_code& ec, std::size_t) {
                               if (ec) {
                                 outbox_.clear();
                                 if (flushing_) end_flush();
                                 return;
                               }
                               outbox_.pop_front();
                               if (!outbox_.empty()) return write_next();
                               if (flushing_) end_flush();
                             });
  }

  void end_flush() {
    if (!flushing_) return;
    flushing_ = false;
    flush_timer_.cancel();
    close();
    if (auto done = std::move(on_flushed_)) done();
  }

  void finish(std::string why) {
    if (finished_) return;
    finished_ = true;
    if (handler_.on_closed) handler_.on_closed(std::move(why));
  }

  TcpOptions options_;
  tcp::acceptor acceptor_;
  tcp::socket socket_;
  boost::asio::steady_timer flush_timer_;
  MessageReader reader_;
  TransportHandler handler_;
  boost::asio::streambuf token_buf_{4096};
  std::array<char, 1 << 16> chunk_{};
  std::deque<std::string> outbox_;
  bool closed_ = false;
  bool finished_ = false;
  bool flushing_ = false;
  std::function<void()> on_flushed_;
};

}  // namespace

Result<std::pair<std::string, std::uint16_t>> parse_listen_address(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return error("--listen '", text, "': expected HOST:PORT, e.g. 127.0.0.1:7777");
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string port_text = text.substr(colon + 1);
  unsigned port = 0;
  const auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || p != port_text.data() + port_text.size() || port > 65535)
    return error("--listen '", text, "': port '", port_text, "' is not a number in 0..65535");
  return std::pair{host, static_cast<std::uint16_t>(port)};
}

Result<std::unique_ptr<Transport>> make_tcp_transport(EventLoop& loop, TcpOptions options) {
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(options.host, ec);
  if (ec) return error("listen address '", options.host, "' is not an IP address: ", ec.message());
  tcp::acceptor acceptor(loop.impl().io);
  const tcp::endpoint endpoint(address, options.port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(1, ec);
  if (ec)
    return error("cannot listen on ", options.host, ":", static_cast<unsigned>(options.port), ": ", ec.message(),
                 " (is the port in use?)");
  return std::unique_ptr<Transport>(std::make_unique<TcpTransport>(loop, std::move(options), std::move(acceptor)));
}

}  // namespace rapide::lsp
