// WordPiece (tokenizer.ggml.model = bert), as llama.cpp runs it: lower-case and strip accents
// (each code point replaced by the first code point of its NFD decomposition, from ICU; marks
// dropped), split on white space, punctuation, ASCII symbols and CJK ideographs, then greedy
// longest-match over the vocabulary with a U+2581 word-start marker; a word with no full match
// becomes [UNK].
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

#include <unicode/unorm2.h>

namespace rapide::inference {

namespace {

std::uint32_t nfd_first(std::uint32_t cp) {
  if (cp < 0xC0 || cp > 0x10FFFF) return cp;  // nothing below U+00C0 decomposes
  UErrorCode status = U_ZERO_ERROR;
  static const UNormalizer2* nfd = unorm2_getNFDInstance(&status);
  if (!nfd) return cp;
  UChar buf[32];
  status = U_ZERO_ERROR;
  const int32_t len = unorm2_getDecomposition(nfd, static_cast<UChar32>(cp), buf, 32, &status);
  if (U_FAILURE(status) || len <= 0) return cp;
  if (U16_IS_LEAD(buf[0]) && len > 1) return U16_GET_SUPPLEMENTARY(buf[0], buf[1]);
  return buf[0];
}

// CJK ideograph blocks that BERT splits into single characters (facts from llama.cpp / HF).
bool is_chinese_char(std::uint32_t c) {
  return (c >= 0x04E00 && c <= 0x09FFF) || (c >= 0x03400 && c <= 0x04DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0x0F900 && c <= 0x0FAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

}  // namespace

void Tokenizer::Impl::encode_wpm(std::string_view text, std::vector<std::int32_t>& out) const {
  std::vector<std::uint32_t> cps;
  tok::utf8_decode(text, cps);
  std::vector<std::string> words(1);
  for (std::uint32_t cp : cps) {
    if (strip_accents) cp = nfd_first(cp);
    const tok::CpInfo info = tok::cp_info(cp);
    if (info.whitespace) {
      if (!words.back().empty()) words.emplace_back();
      continue;
    }
    if (cp == 0 || cp == 0xFFFD || info.category == tok::CP_CONTROL) continue;
    if (strip_accents && info.category == tok::CP_MARK) continue;
    std::string s;
    tok::utf8_append(lowercase ? tok::cp_to_lower(cp) : cp, s);
    if (info.category == tok::CP_PUNCTUATION || (cp < 0x7F && info.category == tok::CP_SYMBOL) ||
        is_chinese_char(cp)) {
      if (!words.back().empty()) words.emplace_back();
      words.back() = s;
      words.emplace_back();
    } else {
      words.back() += s;
    }
  }
  if (words.back().empty()) words.pop_back();

  for (const std::string& word : words) {
    if (word.empty()) continue;
    const std::string w = "\xe2\x96\x81" + word;
    const std::size_t n = w.size();
    const std::size_t start = out.size();
    for (std::size_t i = 0; i < n; ++i) {
      bool match = false;
      for (std::size_t j = std::min(n, i + max_token_len + 1); j > i; --j) {
        const std::int32_t id = find(std::string_view(w).substr(i, j - i));
        if (id >= 0) {
          out.push_back(id);
          match = true;
          i = j - 1;
          break;
        }
      }
      if (!match) {
        out.resize(start);
        break;
      }
    }
    if (out.size() == start && unk >= 0) out.push_back(unk);
  }
}

}  // namespace rapide::inference
