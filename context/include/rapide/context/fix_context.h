// Contexts for code actions (quick fixes) and hover explanations: ranges widened to complete
// syntax nodes so that a prompt never shows half a statement.
#pragma once

#include "rapide/context/document.h"

#include <cstdint>
#include <string>
#include <vector>

namespace rapide::context {

struct CodeRegion {
  uint32_t start_byte = 0, end_byte = 0;  // always whole lines for statements/functions
  uint32_t start_line = 0, end_line = 0;  // 0-based, inclusive
  std::string text;
  std::string node_type;                  // tree-sitter node type ("" for line fallback)
};

struct FixContext {
  CodeRegion statement;        // the smallest statement/declaration (whole lines) holding the range
  CodeRegion function;         // the enclosing function/method/class (or the statement's block);
                               // equal to statement when at top level
  std::vector<std::string> imports;  // import statements of the file
  std::string language;        // LSP languageId
};

// Widens a diagnostic's byte range [start, end) to the enclosing statement, and gives the
// enclosing function as surrounding context. Without a tree: the lines of the range (statement)
// and +-10 lines (function).
FixContext fix_context(const Snapshot& doc, uint32_t start_byte, uint32_t end_byte);

struct ExplainContext {
  CodeRegion target;     // the selection widened to a complete named node (or the identifier
                         // under the cursor for an empty selection)
  CodeRegion enclosing;  // the enclosing function/class (may equal target)
  std::string symbol;    // identifier under the cursor, when the selection is empty
  std::string language;
};

// For hover / "Explain": widens [start, end) to the smallest named node covering it whose text
// is complete (an identifier, expression, statement, function...).
ExplainContext explain_context(const Snapshot& doc, uint32_t start_byte, uint32_t end_byte);

}  // namespace rapide::context
