// Helpers shared by the structured fuzz targets: a reader that consumes the fuzzer's bytes
// (running out yields zeros, so every input is a valid program of choices) and a generator of
// code-like UTF-8 text from a small alphabet of tokens (brackets, keywords, comments, strings,
// CR/LF variants, multi-byte and astral characters), which reaches parser states that random
// bytes rarely do.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rapide::fuzz {

class ByteReader {
 public:
  ByteReader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  bool empty() const { return pos_ >= size_; }
  std::size_t remaining() const { return empty() ? 0 : size_ - pos_; }
  std::uint8_t u8() { return empty() ? 0 : data_[pos_++]; }
  std::uint32_t u16() { return static_cast<std::uint32_t>(u8()) | static_cast<std::uint32_t>(u8()) << 8; }
  std::uint32_t u32() { return u16() | u16() << 16; }
  // Takes up to n raw bytes.
  std::string_view bytes(std::size_t n) {
    if (n > remaining()) n = remaining();
    std::string_view out(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return out;
  }
  std::string_view rest() { return bytes(remaining()); }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

inline constexpr std::array<std::string_view, 64> kCodeTokens = {
    "\n", "\n", "\n", "\r\n", "\r", " ", "    ", "\t", "x", "foo", "Bar", "_y1", "0", "42", "3.5e-2",
    "(", ")", "{", "}", "[", "]", ";", ",", ".", ":", "::", "=", "==", "->", "=>", "+", "*", "<", ">",
    "\"", "'", "`", "\\", "#", "//", "/*", "*/", "--", "\"\"\"", "def ", "class ", "return ", "if ",
    "fn ", "int ", "#include <x.h>", "import os", "from . import y", "function ", "struct S {",
    "é", "€", "😀", "\xe2\x80\xa8", "ß", "\xef\xbb\xbf", "#!", "@", "$"};

// n tokens chosen by the reader.
inline std::string code_text(ByteReader& in, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n && !in.empty(); ++i) out += kCodeTokens[in.u8() % kCodeTokens.size()];
  return out;
}

}  // namespace rapide::fuzz
