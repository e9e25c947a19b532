#include "rapide/context/text.h"

#include <algorithm>
#include <cstring>

namespace rapide::context {
namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 when it is invalid; *bad receives the length
// of the maximal invalid subpart to replace (>= 1) in that case.
size_t valid_sequence(std::string_view s, size_t i, size_t* bad) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  *bad = 1;
  if (c < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  for (size_t k = 1; k < n; ++k) {
    if (i + k >= s.size()) {
      *bad = k;
      return 0;
    }
    const unsigned char t = b(i + k);
    const unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (t < l || t > h) {
      *bad = k;
      return 0;
    }
  }
  return n;
}

// Code-unit width of the character starting with lead byte c.
inline uint32_t utf8_len(unsigned char c) {
  if (c < 0x80) return 1;
  if (c < 0xE0) return 2;
  if (c < 0xF0) return 3;
  return 4;
}

}  // namespace

std::string sanitize_utf8(std::string_view text, size_t* replaced) {
  size_t count = 0;
  std::string out;
  size_t i = 0;
  // Fast path: copy valid runs.
  while (i < text.size()) {
    size_t bad = 0;
    const size_t n = valid_sequence(text, i, &bad);
    if (n == 0) {
      if (out.empty() && count == 0) out.assign(text.substr(0, i));
      out += "\xEF\xBF\xBD";
      ++count;
      i += bad;
      continue;
    }
    if (count) out.append(text.substr(i, n));
    i += n;
  }
  if (replaced) *replaced = count;
  if (count == 0) return std::string(text);
  return out;
}

bool is_valid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    size_t bad = 0;
    const size_t n = valid_sequence(text, i, &bad);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

LineIndex::LineIndex(std::string_view text) : text_(text) {
  starts_.clear();
  starts_.push_back(0);
  const char* p = text.data();
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    // memchr for both terminators: find the nearer of '\n' and '\r'.
    const void* nl = std::memchr(p + i, '\n', n - i);
    const size_t j_nl = nl ? static_cast<size_t>(static_cast<const char*>(nl) - p) : n;
    const void* cr = std::memchr(p + i, '\r', j_nl - i);
    if (cr) {
      const size_t j = static_cast<size_t>(static_cast<const char*>(cr) - p);
      if (j + 1 < n && p[j + 1] == '\n') {
        starts_.push_back(static_cast<uint32_t>(j + 2));
        i = j + 2;
      } else {
        has_lone_cr_ = true;
        starts_.push_back(static_cast<uint32_t>(j + 1));
        i = j + 1;
      }
      continue;
    }
    if (!nl) break;
    starts_.push_back(static_cast<uint32_t>(j_nl + 1));
    i = j_nl + 1;
  }
}

uint32_t LineIndex::line_start(uint32_t line) const {
  return line < starts_.size() ? starts_[line] : static_cast<uint32_t>(text_.size());
}

uint32_t LineIndex::line_end(uint32_t line) const {
  if (line >= starts_.size()) return static_cast<uint32_t>(text_.size());
  if (line + 1 == starts_.size()) return static_cast<uint32_t>(text_.size());
  uint32_t e = starts_[line + 1];
  // strip "\n", "\r\n" or "\r"
  if (e > starts_[line] && text_[e - 1] == '\n') --e;
  if (e > starts_[line] && text_[e - 1] == '\r') --e;
  return e;
}

std::string_view LineIndex::line_text(uint32_t line) const {
  const uint32_t s = line_start(line);
  return text_.substr(s, line_end(line) - s);
}

uint32_t LineIndex::line_of(uint32_t byte) const {
  const auto it = std::upper_bound(starts_.begin(), starts_.end(), byte);
  return static_cast<uint32_t>(it - starts_.begin()) - 1;
}

uint32_t LineIndex::offset(Position p, PositionEncoding enc) const {
  if (p.line >= starts_.size()) return static_cast<uint32_t>(text_.size());
  const uint32_t s = starts_[p.line], e = line_end(p.line);
  uint32_t units = 0;
  uint32_t i = s;
  while (i < e && units < p.character) {
    const uint32_t len = std::min<uint32_t>(utf8_len(static_cast<unsigned char>(text_[i])), e - i);
    const uint32_t w = enc == PositionEncoding::utf8 ? len : (len == 4 ? 2u : 1u);
    if (units + w > p.character) break;  // inside a character: round down
    units += w;
    i += len;
  }
  return i;
}

bool LineIndex::exact(Position p, PositionEncoding enc) const {
  if (p.line >= starts_.size()) return false;
  const uint32_t o = offset(p, enc);
  return position(o, enc) == p;
}

Position LineIndex::position(uint32_t byte, PositionEncoding enc) const {
  byte = std::min<uint32_t>(byte, static_cast<uint32_t>(text_.size()));
  const uint32_t line = line_of(byte);
  const uint32_t s = starts_[line];
  const uint32_t e = std::min(byte, line_end(line));
  uint32_t units = 0;
  uint32_t i = s;
  while (i < e) {
    const uint32_t len = utf8_len(static_cast<unsigned char>(text_[i]));
    if (i + len > e) break;  // byte inside a character: round down
    units += enc == PositionEncoding::utf8 ? len : (len == 4 ? 2u : 1u);
    i += len;
  }
  return Position{line, units};
}

uint32_t LineIndex::clamp(uint32_t byte) const {
  byte = std::min<uint32_t>(byte, static_cast<uint32_t>(text_.size()));
  while (byte > 0 && byte < text_.size() && (static_cast<unsigned char>(text_[byte]) & 0xC0) == 0x80) --byte;
  const uint32_t line = line_of(byte);
  return std::min(byte, line_end(line));
}

ByteRowColumn LineIndex::point(uint32_t byte) const {
  byte = std::min<uint32_t>(byte, static_cast<uint32_t>(text_.size()));
  if (!has_lone_cr_) {
    const uint32_t line = line_of(byte);
    return ByteRowColumn{line, byte - starts_[line]};
  }
  // Lone "\r" ends an LSP line but not a tree-sitter row: count "\n" directly.
  uint32_t row = 0, last = 0;
  for (uint32_t i = 0; i < byte; ++i)
    if (text_[i] == '\n') {
      ++row;
      last = i + 1;
    }
  return ByteRowColumn{row, byte - last};
}

}  // namespace rapide::context
