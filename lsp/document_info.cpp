#include "rapide/lsp/document_info.h"

#include "rapide/context/languages.h"

#include <string>

namespace rapide::lsp {

std::uint64_t fnv1a64(std::string_view bytes) {
  std::uint64_t h = 14695981039346656037ull;
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

std::uint64_t utf16_length(std::string_view s) {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = 1;
    if (c >= 0xF0 && c <= 0xF4) len = 4;
    else if (c >= 0xE0) len = 3;
    else if (c >= 0xC2 && c < 0xE0) len = 2;
    bool ok = i + len <= s.size();
    for (std::size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (!ok) len = 1;
    n += len == 4 ? 2 : 1;
    i += len;
  }
  return n;
}

nlohmann::json document_info_json(const std::string& uri, const context::Snapshot& doc, bool include_text) {
  std::string hash = "fnv1a64:0000000000000000";
  std::uint64_t h = fnv1a64(doc.text());
  for (std::size_t i = hash.size(); i-- > 8; h >>= 4) hash[i] = "0123456789abcdef"[h & 0xF];
  nlohmann::json j = {
      {"uri", uri},
      {"version", doc.version()},
      {"languageId", doc.language() ? nlohmann::json(std::string(doc.language()->id)) : nlohmann::json(nullptr)},
      {"bytes", doc.text().size()},
      {"utf16Length", utf16_length(doc.text())},
      {"lines", doc.lines().line_count()},
      {"hash", hash},
  };
  if (include_text) j["text"] = doc.text();
  return j;
}

}  // namespace rapide::lsp
