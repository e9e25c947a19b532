// JSON-RPC base protocol framing: "Content-Length: N\r\n[other headers]\r\n\r\n<N bytes>".
//
// MessageReader is an incremental parser: feed it bytes as they arrive (partial reads, several
// messages in one read, a header split across reads) and pull complete bodies or framing errors.
// It never throws and never loses sync for long: after a malformed header block it skips to the
// next "Content-Length" header; a body over the size limit is skipped byte-exactly.
//
// Not thread-safe: one reader per connection, used from one thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace rapide::lsp {

struct FrameEvent {
  enum class Kind { message, error };
  Kind kind = Kind::message;
  std::string text;  // the body (message) or what was wrong (error)
};

class MessageReader {
 public:
  // max_body_bytes: bodies larger than this are skipped and reported as an error.
  explicit MessageReader(std::size_t max_body_bytes = kDefaultMaxBodyBytes) : max_body_bytes_(max_body_bytes) {}

  static constexpr std::size_t kDefaultMaxBodyBytes = std::size_t{128} << 20;  // 128 MiB
  static constexpr std::size_t kMaxHeaderBytes = 8192;

  void feed(std::string_view bytes) { buffer_.append(bytes); }

  // The next complete message or framing error; nullopt when more bytes are needed.
  std::optional<FrameEvent> next();

  // Bytes received but not yet consumed (a partial message).
  std::size_t pending_bytes() const { return buffer_.size() - pos_; }

 private:
  void compact();

  std::string buffer_;
  std::size_t pos_ = 0;          // start of unconsumed bytes in buffer_
  std::size_t skip_bytes_ = 0;   // body bytes of an oversize message still to discard
  bool resyncing_ = false;       // looking for the next "Content-Length:" after garbage
  std::size_t max_body_bytes_;
};

// Frames a body for sending: the Content-Length header plus the body.
std::string frame_message(std::string_view body);

}  // namespace rapide::lsp
