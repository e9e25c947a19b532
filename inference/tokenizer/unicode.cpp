#include "tokenizer/unicode.h"

#include <unicode/uchar.h>

#include <memory>

namespace rapide::inference::tok {
namespace {

CpInfo classify_icu(std::uint32_t cp) {
  if (cp > 0x10FFFF) return {CP_UNDEFINED, false};
  const auto c = static_cast<UChar32>(cp);
  std::uint8_t cat = CP_UNDEFINED;
  switch (u_charType(c)) {
    case U_UPPERCASE_LETTER:
    case U_LOWERCASE_LETTER:
    case U_TITLECASE_LETTER:
    case U_MODIFIER_LETTER:
    case U_OTHER_LETTER:
      cat = CP_LETTER;
      break;
    case U_DECIMAL_DIGIT_NUMBER:
    case U_LETTER_NUMBER:
    case U_OTHER_NUMBER:
      cat = CP_NUMBER;
      break;
    case U_NON_SPACING_MARK:
    case U_ENCLOSING_MARK:
    case U_COMBINING_SPACING_MARK:
      cat = CP_MARK;
      break;
    case U_SPACE_SEPARATOR:
    case U_LINE_SEPARATOR:
    case U_PARAGRAPH_SEPARATOR:
      cat = CP_SEPARATOR;
      break;
    case U_DASH_PUNCTUATION:
    case U_START_PUNCTUATION:
    case U_END_PUNCTUATION:
    case U_CONNECTOR_PUNCTUATION:
    case U_OTHER_PUNCTUATION:
    case U_INITIAL_PUNCTUATION:
    case U_FINAL_PUNCTUATION:
      cat = CP_PUNCTUATION;
      break;
    case U_MATH_SYMBOL:
    case U_CURRENCY_SYMBOL:
    case U_MODIFIER_SYMBOL:
    case U_OTHER_SYMBOL:
      cat = CP_SYMBOL;
      break;
    case U_CONTROL_CHAR:
    case U_FORMAT_CHAR:
    case U_PRIVATE_USE_CHAR:
    case U_SURROGATE:
      cat = CP_CONTROL;
      break;
    default:  // U_UNASSIGNED (Cn)
      cat = CP_UNDEFINED;
      break;
  }
  return {cat, u_isUWhiteSpace(c) != 0};
}

// BMP table: category in the low 8 bits... stored as two arrays for compactness.
struct BmpTable {
  std::array<std::uint8_t, 0x10000> category{};
  std::array<bool, 0x10000> whitespace{};
  BmpTable() {
    for (std::uint32_t cp = 0; cp < 0x10000; ++cp) {
      const CpInfo info = classify_icu(cp);
      category[cp] = info.category;
      whitespace[cp] = info.whitespace;
    }
  }
};

const BmpTable& bmp() {
  static const auto table = std::make_unique<BmpTable>();
  return *table;
}

ByteMap make_byte_map() {
  ByteMap m;
  m.cp_to_byte.fill(-1);
  std::array<bool, 256> direct{};
  for (int b = 0x21; b <= 0x7E; ++b) direct[b] = true;
  for (int b = 0xA1; b <= 0xAC; ++b) direct[b] = true;
  for (int b = 0xAE; b <= 0xFF; ++b) direct[b] = true;
  std::uint32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const std::uint32_t cp = direct[b] ? static_cast<std::uint32_t>(b) : next++;
    m.byte_to_cp[b] = cp;
    utf8_append(cp, m.byte_to_utf8[b]);
    m.cp_to_byte[cp] = static_cast<std::int16_t>(b);
  }
  return m;
}

}  // namespace

CpInfo cp_info(std::uint32_t cp) {
  if (cp < 0x10000) {
    const BmpTable& t = bmp();
    return {t.category[cp], t.whitespace[cp]};
  }
  return classify_icu(cp);
}

std::uint32_t cp_to_lower(std::uint32_t cp) {
  if (cp > 0x10FFFF) return cp;
  return static_cast<std::uint32_t>(u_tolower(static_cast<UChar32>(cp)));
}

void utf8_decode(std::string_view s, std::vector<std::uint32_t>& out) {
  out.clear();
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  auto cont = [&](std::size_t k) { return (p[k] & 0xC0) == 0x80; };
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      out.push_back(c);
      i += 1;
    } else if (!(c & 0x40)) {
      out.push_back(0xFFFD);
      i += 1;
    } else if (!(c & 0x20)) {
      if (i + 1 < n && cont(i + 1)) {
        out.push_back(((c & 0x1Fu) << 6) | (p[i + 1] & 0x3Fu));
        i += 2;
      } else {
        out.push_back(0xFFFD);
        i += 1;
      }
    } else if (!(c & 0x10)) {
      if (i + 2 < n && cont(i + 1) && cont(i + 2)) {
        out.push_back(((c & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6) | (p[i + 2] & 0x3Fu));
        i += 3;
      } else {
        out.push_back(0xFFFD);
        i += 1;
      }
    } else if (!(c & 0x08)) {
      if (i + 3 < n && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
        out.push_back(((c & 0x07u) << 18) | ((p[i + 1] & 0x3Fu) << 12) | ((p[i + 2] & 0x3Fu) << 6) |
                      (p[i + 3] & 0x3Fu));
        i += 4;
      } else {
        out.push_back(0xFFFD);
        i += 1;
      }
    } else {
      out.push_back(0xFFFD);
      i += 1;
    }
  }
}

void utf8_append(std::uint32_t cp, std::string& out) {
  if (cp > 0x10FFFF) cp = 0xFFFD;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

const ByteMap& byte_map() {
  static const ByteMap m = make_byte_map();
  return m;
}

bool byte_decode(std::string_view text, std::string& out) {
  out.clear();
  const ByteMap& m = byte_map();
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t i = 0;
  while (i < text.size()) {
    std::uint32_t cp;
    const unsigned char c = p[i];
    if (c < 0x80) {
      cp = c;
      i += 1;
    } else if ((c & 0xE0) == 0xC0 && i + 1 < text.size() && (p[i + 1] & 0xC0) == 0x80) {
      cp = ((c & 0x1Fu) << 6) | (p[i + 1] & 0x3Fu);
      i += 2;
    } else {
      return false;  // every mapped code point is below U+0200: one or two bytes
    }
    if (cp >= m.cp_to_byte.size() || m.cp_to_byte[cp] < 0) return false;
    out.push_back(static_cast<char>(m.cp_to_byte[cp]));
  }
  return true;
}

void byte_encode(std::string_view raw, std::string& out) {
  out.clear();
  const ByteMap& m = byte_map();
  for (char c : raw) out += m.byte_to_utf8[static_cast<unsigned char>(c)];
}

}  // namespace rapide::inference::tok
