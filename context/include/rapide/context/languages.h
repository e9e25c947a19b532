// The language table: LSP languageId and file extensions mapped to tree-sitter grammars and to
// our query folder (grammars/queries/<queries>/). Entries are immutable and live for the whole
// program; lookups are thread-safe.
#pragma once

#include <span>
#include <string_view>

struct TSLanguage;

namespace rapide::context {

struct Language {
  std::string_view id;                          // LSP languageId: "python", "cpp", ...
  std::span<const std::string_view> extensions;  // ".py", ".pyi" (lower case, with the dot)
  const TSLanguage* (*grammar)();               // tree-sitter language of this id
  bool indentation_scoped = false;              // blocks end by dedent (Python), not by a bracket
  std::string_view queries;                     // query folder: "typescript" for tsx too
  std::string_view line_comment;                // "//", "#", "--"; "" when the language has none
  std::span<const std::string_view> aliases = {};  // other languageIds mapped here ("c++")
};

// Every language rapide knows, in a stable order.
std::span<const Language> languages();

// Lookups; nullptr when unknown. Extension match ignores case; path may be a full path.
const Language* language_by_id(std::string_view language_id);
const Language* language_for_path(std::string_view path);

}  // namespace rapide::context
