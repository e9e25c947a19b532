// stdio transport: a reader thread blocks in read(2) and posts chunks to the loop, where they
// are framed and dispatched; writes happen on the loop thread.
#include "rapide/lsp/transport.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace rapide::lsp {
namespace {

// Shared between the transport and its reader thread, so the thread can outlive a transport
// destroyed while it is blocked in read().
struct ReaderLink {
  std::mutex mutex;
  EventLoop* loop = nullptr;  // null once the transport is gone
  std::function<void(std::string)> on_bytes;
  std::function<void(std::string)> on_eof;
};

bool link_alive(ReaderLink& link) {
  std::lock_guard lock(link.mutex);
  return link.loop != nullptr;
}

class StdioTransport : public Transport {
 public:
  StdioTransport(EventLoop& loop, int in_fd, int out_fd, std::size_t max_body)
      : loop_(loop), in_fd_(in_fd), out_fd_(out_fd), reader_(max_body), link_(std::make_shared<ReaderLink>()) {}

  ~StdioTransport() override {
    {
      std::lock_guard lock(link_->mutex);
      link_->loop = nullptr;
    }
    if (thread_.joinable()) thread_.detach();  // may be blocked in read(); it exits on EOF
  }

  void start(TransportHandler handler) override {
    handler_ = std::move(handler);
    link_->loop = &loop_;
    link_->on_bytes = [this](std::string bytes) {
      if (closed_) return;
      reader_.feed(bytes);
      while (auto e = reader_.next()) {
        if (closed_) return;
        handler_.on_frame(std::move(*e));
      }
    };
    link_->on_eof = [this](std::string why) {
      if (closed_) return;
      closed_ = true;
      handler_.on_closed(std::move(why));
    };
    thread_ = std::thread([link = link_, fd = in_fd_] {
      std::string buf(1 << 16, '\0');
      for (;;) {
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        std::lock_guard lock(link->mutex);
        if (!link->loop) return;
        if (n <= 0) {
          std::string why = n == 0 ? "end of input" : std::string("read error: ") + std::strerror(errno);
          link->loop->post([link, why] {
            if (link_alive(*link)) link->on_eof(why);
          });
          return;
        }
        link->loop->post([link, chunk = std::string(buf.data(), static_cast<std::size_t>(n))]() mutable {
          if (link_alive(*link)) link->on_bytes(std::move(chunk));
        });
      }
    });
  }

  void send(std::string body) override {
    if (write_failed_) return;
    const std::string framed = frame_message(body);
    std::size_t done = 0;
    while (done < framed.size()) {
      const ssize_t n = ::write(out_fd_, framed.data() + done, framed.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        write_failed_ = true;  // the client is gone; the reader will see EOF
        return;
      }
      done += static_cast<std::size_t>(n);
    }
  }

  void close() override { closed_ = true; }
  std::string describe() const override { return "stdio"; }

 private:
  EventLoop& loop_;
  int in_fd_, out_fd_;
  MessageReader reader_;
  TransportHandler handler_;
  std::shared_ptr<ReaderLink> link_;
  std::thread thread_;
  bool closed_ = false;
  bool write_failed_ = false;
};

}  // namespace

std::unique_ptr<Transport> make_stdio_transport(EventLoop& loop, int in_fd, int out_fd, std::size_t max_body_bytes) {
  return std::make_unique<StdioTransport>(loop, in_fd, out_fd, max_body_bytes);
}

}  // namespace rapide::lsp
