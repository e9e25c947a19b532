// `rapide/document`: the server's view of an open document, so that a client (bench/soak.mjs,
// an editor's debug command) can check that its copy and the server's agree after thousands of
// incremental changes.
//
//   request  {"textDocument": {"uri": U}, "includeText"?: bool (default false)}
//   result   {"uri", "version", "languageId" (null for plain text), "bytes" (UTF-8 length),
//             "utf16Length" (UTF-16 code units, what JavaScript's String.length counts),
//             "lines", "hash" ("fnv1a64:" + 16 lowercase hex digits of the UTF-8 text),
//             "text" (only with includeText)}
// An unknown URI is an InvalidParams error naming it.
#pragma once

#include "rapide/context/document.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace rapide::lsp {

// 64-bit FNV-1a of the bytes (offset basis 14695981039346656037, prime 1099511628211).
std::uint64_t fnv1a64(std::string_view bytes);

// UTF-16 code units of UTF-8 text (a 4-byte sequence counts 2; invalid bytes count 1 each).
std::uint64_t utf16_length(std::string_view utf8);

nlohmann::json document_info_json(const std::string& uri, const context::Snapshot& doc, bool include_text);

}  // namespace rapide::lsp
