#include "rapide/lsp/transport.h"

namespace rapide::lsp {

void InMemoryTransport::send(std::string body) {
  std::lock_guard lock(mutex_);
  sent_.push_back(std::move(body));
}

void InMemoryTransport::client_write(std::string raw_bytes) {
  loop_.post([this, bytes = std::move(raw_bytes)] {
    if (closed_) return;
    reader_.feed(bytes);
    while (auto e = reader_.next())
      if (handler_.on_frame) handler_.on_frame(std::move(*e));
  });
}

void InMemoryTransport::client_close() {
  loop_.post([this] {
    if (handler_.on_closed) handler_.on_closed("client closed the in-memory pipe");
  });
}

std::vector<std::string> InMemoryTransport::take_sent() {
  std::lock_guard lock(mutex_);
  return std::exchange(sent_, {});
}

}  // namespace rapide::lsp
