// Unicode helpers for the tokenizers (private to inference/tokenizer).
//
// Code point categories come from ICU (u_charType, u_isUWhiteSpace): nothing here is a table typed
// by hand. The BMP is looked up in a 64 KiB table filled from ICU on first use (thread-safe static
// initialisation); other code points ask ICU directly.
//
// UTF-8 decoding follows llama.cpp's rules exactly (that decides token ids for bad input): a lead
// byte whose continuation bytes are missing or wrong yields U+FFFD and consumes one byte; overlong
// forms are accepted as they come.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rapide::inference::tok {

// One flag per general-category group, plus White_Space. Exactly one of the category bits is set
// for every code point (UNDEFINED for unassigned ones and for values above U+10FFFF).
enum CpFlag : std::uint8_t {
  CP_UNDEFINED = 1 << 0,
  CP_NUMBER = 1 << 1,       // \p{N}
  CP_LETTER = 1 << 2,       // \p{L}
  CP_SEPARATOR = 1 << 3,    // \p{Z}
  CP_MARK = 1 << 4,         // \p{M}
  CP_PUNCTUATION = 1 << 5,  // \p{P}
  CP_SYMBOL = 1 << 6,       // \p{S}
  CP_CONTROL = 1 << 7,      // \p{C} other than Cn
};
constexpr std::uint8_t CP_CATEGORY_MASK = 0xFF;

struct CpInfo {
  std::uint8_t category;  // one CpFlag
  bool whitespace;        // Unicode White_Space property
};

// Category flags of a code point.
CpInfo cp_info(std::uint32_t cp);

// Lower-case mapping (simple case mapping, ICU).
std::uint32_t cp_to_lower(std::uint32_t cp);

// Decodes `text` with llama.cpp's rules into code points.
void utf8_decode(std::string_view text, std::vector<std::uint32_t>& out);
// Appends the UTF-8 encoding of `cp` (values above U+10FFFF are written as U+FFFD).
void utf8_append(std::uint32_t cp, std::string& out);
// Length of the UTF-8 sequence announced by a lead byte (1 for continuation / invalid bytes),
// llama.cpp's unicode_len_utf8.
inline std::size_t utf8_len(unsigned char lead) {
  static constexpr std::uint8_t k_lengths[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return k_lengths[lead >> 4];
}

// GPT-2 byte-level mapping: every byte to a printable code point and back.
struct ByteMap {
  std::array<std::uint32_t, 256> byte_to_cp{};
  std::array<std::string, 256> byte_to_utf8{};
  // -1 for code points that no byte maps to; indexed by code point (< 512).
  std::array<std::int16_t, 512> cp_to_byte{};
};
const ByteMap& byte_map();

// Inverts the byte-level mapping of a vocabulary text: false when some character is not one of
// the 256 mapped code points (then `out` is unspecified).
bool byte_decode(std::string_view text, std::string& out);
// Byte-level encoding of raw bytes (each byte to its mapped code point, as UTF-8).
void byte_encode(std::string_view raw, std::string& out);

}  // namespace rapide::inference::tok
