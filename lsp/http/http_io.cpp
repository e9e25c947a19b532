#include "http_io.h"

#include <boost/asio/write.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace rapide::lsp::http_detail {

ReadOutcome read_some(boost::asio::ip::tcp::socket& socket, std::string& out,
                      std::chrono::steady_clock::time_point deadline, const std::function<bool()>& stop) {
  const int fd = socket.native_handle();
  for (;;) {
    if (stop && stop()) return ReadOutcome::STOPPED;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return ReadOutcome::TIMEOUT;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    pollfd p{fd, POLLIN | POLLRDHUP, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left + 1, 20)));
    if (r < 0) {
      if (errno == EINTR) continue;
      return ReadOutcome::ERROR;
    }
    if (r == 0) continue;
    char buf[16384];
    boost::system::error_code ec;
    const std::size_t n = socket.read_some(boost::asio::buffer(buf), ec);
    if (ec == boost::asio::error::eof) return ReadOutcome::CLOSED;
    if (ec) return ReadOutcome::ERROR;
    out.append(buf, n);
    return ReadOutcome::DATA;
  }
}

bool peer_closed(boost::asio::ip::tcp::socket& socket) {
  pollfd p{socket.native_handle(), POLLRDHUP, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

bool write_all(boost::asio::ip::tcp::socket& socket, std::string_view data) {
  boost::system::error_code ec;
  boost::asio::write(socket, boost::asio::buffer(data.data(), data.size()), ec);
  return !ec;
}

}  // namespace rapide::lsp::http_detail
