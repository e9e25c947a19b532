// Contexts for code actions (quick fixes) and hover explanations: ranges widened to complete
// syntax nodes so that a prompt never shows half a statement.
//
// Stale trees: a snapshot whose reparse was cut short by the parse time cap (tree_stale(): the
// previous tree moved to the new offsets, see document.h) does not describe the edited text, so
// its node ranges are never used: these functions parse the snapshot's text to the end from the
// stale tree, privately and within a ParseBudget, and read that tree (SyntaxSource::reparsed).
// When that parse runs out of budget, or the snapshot has no tree, the ranges are line-based
// (SyntaxSource::lines). The cost of the reparse is the one the background parse would pay
// (a few ms to ~100 ms on a 10k-line file); it happens only in the ms after an edit.
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

// Where the regions' boundaries came from.
enum class SyntaxSource {
  tree,      // the snapshot's tree (it describes the snapshot's text)
  reparsed,  // a private parse of the text (the snapshot's tree was stale)
  lines,     // no tree for this text (plain text, parse out of budget): whole lines
};

struct FixContext {
  CodeRegion statement;        // the smallest statement/declaration (whole lines) holding the range
  CodeRegion function;         // the enclosing function/method/class (or the statement's block);
                               // equal to statement when at top level
  std::vector<std::string> imports;  // import statements of the file
  std::string language;        // LSP languageId
  SyntaxSource syntax = SyntaxSource::lines;
};

// Widens a diagnostic's byte range [start, end) to the enclosing statement, and gives the
// enclosing function as surrounding context. Without a tree: the lines of the range (statement)
// and +-10 lines (function). `budget` bounds the reparse of a stale tree (top of this file).
FixContext fix_context(const Snapshot& doc, uint32_t start_byte, uint32_t end_byte, ParseBudget budget = {});

struct ExplainContext {
  CodeRegion target;     // the selection widened to a complete named node (or the identifier
                         // under the cursor for an empty selection)
  CodeRegion enclosing;  // the enclosing function/class (may equal target)
  std::string symbol;    // identifier under the cursor, when the selection is empty
  std::string language;
  SyntaxSource syntax = SyntaxSource::lines;
};

// For hover / "Explain": widens [start, end) to the smallest named node covering it whose text
// is complete (an identifier, expression, statement, function...). Stale trees as above.
ExplainContext explain_context(const Snapshot& doc, uint32_t start_byte, uint32_t end_byte, ParseBudget budget = {});

}  // namespace rapide::context
