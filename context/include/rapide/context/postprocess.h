// Completion post-processing with the syntax tree: what to keep of the model's output.
//
// Rules, in order (each may cut the text; the reason of the first cut is reported):
//   1. single-line context (the cursor has non-blank text after it on its line): at most one
//      line; otherwise at most max_lines lines;
//   2. block end: the completion stops before a closing bracket that would close a block opened
//      before the cursor (brace languages), or before a line that dedents below the cursor
//      line's indentation (indentation languages, and brace languages for lines starting with
//      a closer);
//   3. suffix overlap: trailing completion text that the suffix already contains at the cursor
//      (e.g. a ")" the editor auto-closed, or the next lines of the file) is dropped;
//   4. bracket balance: a closing bracket that matches nothing opened in the completion may
//      only close the innermost bracket left open before the cursor (and not closed by the
//      rest of the cursor line); any other unmatched closer ends the completion;
//   5. parse check: the completion is spliced at the cursor and the document reparsed
//      (incrementally). When the result has ERROR/MISSING nodes, shorter prefixes of the
//      completion (cut at line ends, then at word/punctuation boundaries of its first line) are
//      tried and the longest one with the fewest errors is kept; when even that has more errors
//      than the document without the completion, the completion is dropped (empty). Skipped on
//      a stale tree (Snapshot::tree_stale: the reparse of the last edit is still running) and
//      bounded by parse_check_budget.
// Deterministic; never fails (bad inputs give an empty completion with a reason).
#pragma once

#include "rapide/context/document.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace rapide::context {

struct PostprocessOptions {
  uint32_t max_lines = 16;
  bool check_parse = true;
  // Work allowed for all the reparses of the parse check together, in tree-sitter progress
  // checks (100 parser operations each; a clean incremental reparse of a 10k-line file takes
  // tens, error recovery thousands). When it runs out the check gives no verdict: the completion
  // is kept as the line rules left it and parse_checked is false. Deterministic (no clock).
  uint64_t parse_check_budget = 2000;
};

struct ProcessedCompletion {
  std::string text;         // what to show (may be empty)
  std::string stop_reason;  // "", "single line", "max lines", "block end", "dedent",
                            // "suffix overlap", "unbalanced bracket", "parse errors"
  bool parse_checked = false;
};

// cursor_byte is clamped with LineIndex::clamp (into the text, to a character start, out of a
// CRLF: a cursor between "\r" and "\n" means the end of that line), like the context builder.
ProcessedCompletion postprocess_completion(const Snapshot& doc, uint32_t cursor_byte, std::string_view completion,
                                           const PostprocessOptions& options = {});

// Incremental stop check while tokens stream in. Feed the text generated so far (growing);
// should_stop() becomes true once the text already triggers a line-based stop rule (line limit,
// block end, dedent, unbalanced closer) - nothing later can undo those - so generation can end.
// Work per call is proportional to the newly added text. Not thread-safe; one per request.
class StreamingStopper {
 public:
  StreamingStopper(const Snapshot& doc, uint32_t cursor_byte, const PostprocessOptions& options = {});
  // Feed the whole generated text so far (must extend the previous call's text). Returns true
  // when generation should stop.
  bool feed(std::string_view generated);
  bool should_stop() const { return stop_; }
  // Length of the generated text worth keeping (before the stop point), in bytes.
  size_t keep_bytes() const { return keep_; }
  const std::string& reason() const { return reason_; }

 private:
  bool single_line_;
  bool indentation_language_;
  uint32_t max_lines_;
  int cursor_indent_;       // indentation width of the cursor line (a tab advances to the next
                            // multiple of 4)
  std::string consumed_;    // text scanned so far
  size_t line_start_ = 0;   // start of the current (incomplete) line in consumed_
  uint32_t lines_ = 0;
  int depth_ = 0;           // bracket depth within the completion
  bool first_line_ = true;
  char in_string_ = 0;      // quote character of the string literal we are in, 0 when none
  std::string pending_;     // brackets open before the cursor that the suffix's line leaves
                            // open (innermost last): the completion may close these
  std::string initial_pending_;
  bool stop_ = false;
  size_t keep_ = 0;
  std::string reason_;
};

}  // namespace rapide::context
