#include "rapide/lsp/framing.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace rapide::lsp {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Finds "content-length:" case-insensitively at or after `from`.
std::size_t find_content_length(std::string_view s, std::size_t from) {
  static constexpr std::string_view key = "content-length:";
  for (std::size_t i = from; i + key.size() <= s.size(); ++i)
    if (iequals(s.substr(i, key.size()), key)) return i;
  return std::string_view::npos;
}

std::string printable(std::string_view s, std::size_t max_chars = 60) {
  std::string out;
  for (char c : s.substr(0, max_chars)) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  if (s.size() > max_chars) out += "...";
  return out;
}

}  // namespace

void MessageReader::compact() {
  if (pos_ > 0 && pos_ >= buffer_.size() / 2) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
}

std::optional<FrameEvent> MessageReader::next() {
  for (;;) {
    std::string_view rest = std::string_view(buffer_).substr(pos_);
    if (skip_bytes_ > 0) {
      const std::size_t n = std::min(skip_bytes_, rest.size());
      pos_ += n;
      skip_bytes_ -= n;
      compact();
      if (skip_bytes_ > 0) return std::nullopt;
      continue;
    }
    if (resyncing_) {
      const std::size_t at = find_content_length(rest, 0);
      if (at == std::string_view::npos) {
        // Keep a tail that could be the start of "Content-Length:".
        const std::size_t keep = std::min<std::size_t>(rest.size(), 14);
        pos_ += rest.size() - keep;
        compact();
        return std::nullopt;
      }
      pos_ += at;
      resyncing_ = false;
      continue;
    }
    if (rest.empty()) {
      compact();
      return std::nullopt;
    }
    const std::size_t end = rest.find("\r\n\r\n");
    if (end == std::string_view::npos) {
      if (rest.size() > kMaxHeaderBytes) {
        FrameEvent e{FrameEvent::Kind::error,
                     "malformed message header: no blank line (\\r\\n\\r\\n) within " +
                         std::to_string(kMaxHeaderBytes) + " bytes, starting '" + printable(rest) + "'"};
        pos_ += 1;
        resyncing_ = true;
        return e;
      }
      // A header that does not start like one can never complete: report it now.
      const std::size_t colon = rest.find(':');
      const std::size_t newline = rest.find('\n');
      if ((newline != std::string_view::npos && (colon == std::string_view::npos || colon > newline)) ||
          rest.front() == '{' || rest.front() == '[') {
        FrameEvent e{FrameEvent::Kind::error,
                     "malformed message header: expected 'Content-Length: N', got '" + printable(rest) + "'"};
        pos_ += 1;
        resyncing_ = true;
        return e;
      }
      return std::nullopt;
    }
    const std::string_view header = rest.substr(0, end);
    std::optional<std::size_t> length;
    std::string problem;
    std::size_t bad_line_end = std::string_view::npos;  // set when one header line is invalid
    std::size_t line_start = 0;
    while (line_start <= header.size()) {
      std::size_t line_end = header.find("\r\n", line_start);
      if (line_end == std::string_view::npos) line_end = header.size();
      const std::string_view line = header.substr(line_start, line_end - line_start);
      const std::size_t colon = line.find(':');
      const std::string_view name = colon == std::string_view::npos ? line : trim(line.substr(0, colon));
      const bool token = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
      });
      if (colon == std::string_view::npos || !token) {
        problem = "header line '" + printable(line) + "' is not 'Name: value'";
        bad_line_end = line_end;
        break;
      }
      line_start = line_end + 2;
      const std::string_view value = trim(line.substr(colon + 1));
      if (iequals(name, "Content-Length")) {
        std::size_t n = 0;
        const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (ec != std::errc{} || p != value.data() + value.size() || value.empty()) {
          problem = "Content-Length '" + printable(value) + "' is not a non-negative integer";
          break;
        }
        length = n;
      }
      // Content-Type and unknown headers are accepted and ignored (the spec allows only utf-8).
    }
    if (problem.empty() && !length) problem = "no Content-Length header in '" + printable(header) + "'";
    if (!problem.empty()) {
      // Skip the bad line only (a valid header may follow it), else the whole block; then look
      // for the next "Content-Length:" (the body, if any, is not a header).
      pos_ += bad_line_end != std::string_view::npos ? std::min(bad_line_end + 2, end + 4) : end + 4;
      resyncing_ = true;
      return FrameEvent{FrameEvent::Kind::error, "malformed message header: " + problem};
    }
    if (*length > max_body_bytes_) {
      pos_ += end + 4;
      skip_bytes_ = *length;
      return FrameEvent{FrameEvent::Kind::error, "message of " + std::to_string(*length) +
                                                     " bytes exceeds the limit of " +
                                                     std::to_string(max_body_bytes_) + " bytes; skipped"};
    }
    if (rest.size() < end + 4 + *length) return std::nullopt;
    FrameEvent e{FrameEvent::Kind::message, std::string(rest.substr(end + 4, *length))};
    pos_ += end + 4 + *length;
    compact();
    return e;
  }
}

std::string frame_message(std::string_view body) {
  std::string out = "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  out.append(body);
  return out;
}

}  // namespace rapide::lsp
