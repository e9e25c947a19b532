// Transports carry framed JSON-RPC messages between one client and the server. The server sees
// only this interface: stdio (the default, what editors spawn), TCP (Boost.Asio, loopback by
// default, optional shared-secret token) and in-memory (tests).
//
// Threading: start(), send() and close() are called on the event loop's thread, and the
// handler's callbacks run there too. Framing (MessageReader) happens inside the transport.
#pragma once

#include "rapide/inference/result.h"
#include "rapide/lsp/event_loop.h"
#include "rapide/lsp/framing.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace rapide::lsp {

struct TransportHandler {
  std::function<void(FrameEvent)> on_frame;        // a message body or a framing error
  std::function<void(std::string why)> on_closed;  // the peer went away (EOF, reset); called once
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual void start(TransportHandler handler) = 0;
  // Frames and writes one message body; messages go out in call order.
  virtual void send(std::string body) = 0;
  virtual void close() = 0;
  // Stops reading, writes every message already passed to send() (or gives up when the peer is
  // gone or `limit` passed), closes, then calls `done` on the loop thread. Transports that write
  // synchronously (stdio, in-memory) close and call `done` at once.
  virtual void close_after_flush(std::function<void()> done,
                                 std::chrono::milliseconds limit = std::chrono::milliseconds(2000)) {
    (void)limit;
    close();
    done();
  }
  virtual std::string describe() const = 0;  // "stdio", "tcp 127.0.0.1:7777", ...
};

// Reads in_fd on a reader thread (works for pipes, files and terminals), posting bytes to the
// loop; writes out_fd on the loop thread.
std::unique_ptr<Transport> make_stdio_transport(EventLoop& loop, int in_fd = 0, int out_fd = 1,
                                                std::size_t max_body_bytes = MessageReader::kDefaultMaxBodyBytes);

struct TcpOptions {
  std::string host = "127.0.0.1";  // loopback by default; another address must be asked for
  std::uint16_t port = 0;          // 0: pick a free port (see on_listening)
  // When non-empty the client must send "token <secret>\n" before its first message, else the
  // connection is closed without reading anything else.
  std::string token;
  std::size_t max_body_bytes = MessageReader::kDefaultMaxBodyBytes;
  std::function<void(std::uint16_t port)> on_listening;  // called once the socket listens
};

// Listens on host:port, serves the first client that connects (and presents the token), and
// reports closed when that client disconnects. Errors binding the address are returned.
Result<std::unique_ptr<Transport>> make_tcp_transport(EventLoop& loop, TcpOptions options);

// "host:port" -> (host, port), with errors naming what is wrong.
Result<std::pair<std::string, std::uint16_t>> parse_listen_address(const std::string& text);

// In-memory pipe for tests: the test writes raw client bytes with client_write() (posted to
// the loop) and reads what the server sent with take_sent().
class InMemoryTransport : public Transport {
 public:
  explicit InMemoryTransport(EventLoop& loop, std::size_t max_body_bytes = MessageReader::kDefaultMaxBodyBytes)
      : loop_(loop), reader_(max_body_bytes) {}
  void start(TransportHandler handler) override { handler_ = std::move(handler); }
  void send(std::string body) override;
  void close() override { closed_ = true; }
  std::string describe() const override { return "in-memory"; }

  // Test side. Thread-safe.
  void client_write(std::string raw_bytes);
  void client_close();
  std::vector<std::string> take_sent();
  bool closed() const { return closed_; }

 private:
  EventLoop& loop_;
  MessageReader reader_;
  TransportHandler handler_;
  std::mutex mutex_;
  std::vector<std::string> sent_;
  bool closed_ = false;
};

}  // namespace rapide::lsp
