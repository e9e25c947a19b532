// Internal helpers shared by the HTTP server and client: bounded reads on a blocking Asio socket.
//
// Asio's synchronous reads ignore SO_RCVTIMEO (they poll forever), so every read here first waits
// with ::poll() in short slices, checking a deadline and an optional stop predicate between
// slices; only then does it call read_some(), which no longer blocks.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

namespace rapide::lsp::http_detail {

enum class ReadOutcome { DATA, CLOSED, TIMEOUT, STOPPED, ERROR };

// Appends what arrives (at most 16 KiB) to `out`. `stop` (may be empty) is polled every ~20 ms.
ReadOutcome read_some(boost::asio::ip::tcp::socket& socket, std::string& out,
                      std::chrono::steady_clock::time_point deadline, const std::function<bool()>& stop);

// True when the peer has closed or reset the connection (non-blocking check).
bool peer_closed(boost::asio::ip::tcp::socket& socket);

// Writes everything; false on any error (peer gone).
bool write_all(boost::asio::ip::tcp::socket& socket, std::string_view data);

}  // namespace rapide::lsp::http_detail
