// The context for one code completion: what goes into the prompt, cut at syntax boundaries and
// fitted to a token budget. The FIM rendering (model tokens, repo-level formats) is done by the
// caller; this gives text pieces and says why each was included.
//
// Priority (what gets budget first), highest first:
//   1. the cursor line up to the cursor, and the rest of the current line after it;
//   2. the prefix window: up to min_prefix_lines whole lines before the cursor;
//   3. the suffix: the rest of the enclosing block (up to max_suffix_lines lines, at most
//      suffix_share of the budget) - short and stable, never the rest of the file;
//   4. the headers (signature lines) of the enclosing functions/classes that fell outside the
//      prefix window;
//   5. the imports of the current file;
//   6. definitions (signatures, bodies only when small) of identifiers used near the cursor,
//      found in files this file imports (resolved to real files), other open documents and the
//      workspace index (in that order of preference), nearest use first;
//   7. similar snippets from other open documents (Jaccard similarity of identifier sets between
//      the lines before the cursor and sliding windows of the other files, best first);
//   8. more prefix, whole syntax nodes / lines further up, until prefix_share of the budget.
// Layout (what comes first in the prompt), stable first so that the KV cache survives
// keystrokes: cross-file items sorted by path (each file's pieces in file order, joined by an
// elision line), then the prefix (imports and enclosing headers of this file, elided, followed
// by the contiguous window), then the suffix. Windows are cut at line starts at or before
// syntax-node starts: never inside a token, and preferably where a node starts whose parent
// encloses the cursor (a sibling of the cursor's statement, function or class), so the window
// opens on whole statements/definitions. Deterministic: same inputs, same output.
// On a stale tree (the reparse of the last edit hit the parse time cap, Snapshot::tree_stale)
// the builder never waits for the parse: it uses the last complete tree outside the edited bytes
// and the text inside them (identifiers for definition lookup, line cuts for the window).
// Without a tree (plain text, or a version whose parse ran out of its budget,
// Snapshot::parse_exhausted) the window is cut at lines and the pieces that need this file's tree
// (imports, enclosing headers, definitions of identifiers near the cursor) are left out.
#pragma once

#include "rapide/context/document.h"
#include "rapide/context/workspace.h"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace rapide::context {

// Counts tokens of a text for the model in use; must be thread-safe if build is called from
// several threads.
using TokenCounter = std::function<int(std::string_view)>;

// A tokenizer-free estimate: ~1 token per 3.5 bytes of code, at least 1 per word/symbol run
// ... close to BPE code tokenizers within ~20% on code.
int approximate_tokens(std::string_view text);

struct ContextOptions {
  int budget_tokens = 1536;
  TokenCounter count_tokens;        // empty: approximate_tokens
  double prefix_share = 0.6;        // the prefix (window + local headers) may use up to this
  double suffix_share = 0.15;
  uint32_t min_prefix_lines = 8;
  uint32_t max_prefix_lines = 400;
  uint32_t max_suffix_lines = 24;
  uint32_t near_cursor_lines = 12;  // lines around the cursor whose identifiers we look up
  size_t max_definitions = 12;
  uint32_t small_body_lines = 12;   // definitions this short are included whole (max 12)
  size_t max_snippets = 4;
  double min_snippet_similarity = 0.12;
};

enum class PieceKind { definition, snippet, import, enclosing_header, prefix, suffix };
std::string_view piece_kind_name(PieceKind kind);

// One piece of the context and why it is there.
struct ContextPiece {
  PieceKind kind = PieceKind::prefix;
  std::string path;          // file it comes from
  uint32_t start_line = 0;   // 0-based lines in that file [start_line, end_line]
  uint32_t end_line = 0;
  std::string text;
  int tokens = 0;
  std::string reason;        // "definition of `parse_config`, used at line 41"
};

// A cross-file item: one per file, ready for `<|file_sep|>path\ntext` style rendering.
struct CrossFileItem {
  std::string path;
  std::string text;
};

struct CompletionContext {
  std::string path;
  std::string language;                 // LSP languageId ("" for plain text)
  std::vector<CrossFileItem> cross_file;  // stable-first order (sorted by path)
  std::string prefix;                   // local imports/headers (elided) + window up to the cursor
  std::string suffix;                   // rest of the line and of the enclosing block
  std::vector<ContextPiece> pieces;     // everything included, in layout order, with reasons
  int tokens_used = 0;
  int budget_tokens = 0;
  uint32_t cursor_byte = 0;
  uint32_t window_start_byte = 0;       // where the contiguous prefix window starts
  uint32_t suffix_end_byte = 0;         // where the suffix ends
  std::string comment_prefix;           // line comment token of the language ("//", "#", "--")
  bool tree_stale = false;              // built on a stale tree (Snapshot::tree_stale): the edited
                                        // bytes were read as text (identifiers, line cuts)
  bool parse_exhausted = false;         // the document version has no tree because its parse ran
                                        // out of budget (Snapshot::parse_exhausted): line cuts
};

// Builds the context at a byte offset of a snapshot (clamped to the text, moved back to the start
// of a UTF-8 character and out of a CRLF line break: cursor_byte in the result is where it was
// taken). The workspace provides other open documents and the definitions index (it may be the
// workspace holding doc or any other).
CompletionContext build_completion_context(const Workspace& workspace, const Snapshot& doc, uint32_t cursor_byte,
                                           const ContextOptions& options = {});

// Plain-text report of a context (what `rapide context` prints).
std::string describe_context(const CompletionContext& context);

}  // namespace rapide::context
