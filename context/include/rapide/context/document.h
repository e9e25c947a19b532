// Documents: UTF-8 text + tree-sitter tree, edited incrementally, published as immutable
// snapshots.
//
//   Document doc("src/main.py", language_by_id("python"), text, /*version=*/1);
//   doc.apply({{Range{{3, 4}, {3, 4}}, "x"}}, PositionEncoding::utf16, 2);  // ts_tree_edit + reparse
//   SnapshotPtr s = doc.snapshot();   // hand to any thread
//
// Threads: a Document is owned by one thread (the one that applies edits). Snapshots are
// immutable and shared (shared_ptr): any number of threads may read one at the same time,
// including its tree (the tree is never edited after the snapshot is made; edits happen on a
// ts_tree_copy). Use Snapshot::copy_tree() for a private tree to edit.
//
// Text from outside is sanitized: invalid UTF-8 becomes U+FFFD (never a crash). Documents
// larger than kMaxParsedBytes keep their text but get no tree (features fall back to lines).
#pragma once

#include "rapide/context/languages.h"
#include "rapide/context/status.h"
#include "rapide/context/syntax.h"
#include "rapide/context/text.h"

#include <tree_sitter/api.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace rapide::context {

inline constexpr uint32_t kMaxParsedBytes = 16u << 20;  // no tree above 16 MiB

// Data derived from a snapshot on first use and cached (definitions, imports, token windows).
inline constexpr uint32_t kSnippetWindowLines = 20;   // similar-snippet windows (Copilot-style)
inline constexpr uint32_t kSnippetStrideLines = 10;

// A window of lines of a document and the hashed set of its identifier tokens (sorted, unique).
struct TokenWindow {
  uint32_t start_line = 0, end_line = 0;  // [start_line, end_line)
  std::vector<uint64_t> tokens;
};

struct SnapshotSymbols {
  std::vector<Definition> definitions;  // document order
  std::vector<Import> imports;          // document order
  std::vector<std::pair<std::string_view, uint32_t>> by_name;  // (name, index in definitions), sorted
  std::vector<TokenWindow> windows;     // every kSnippetStrideLines lines
};

// Hashed identifier tokens ([A-Za-z0-9_]+ runs of length >= 2, plus non-ASCII runs) of a text,
// sorted and unique: the sets compared by Jaccard similarity for snippets.
std::vector<uint64_t> token_set(std::string_view text);
double jaccard(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b);

class Snapshot {
 public:
  // Parses text from scratch. language may be null (plain text: no tree).
  Snapshot(std::string path, const Language* language, std::string text, int64_t version);
  // Internal: the successor of an edited snapshot (tree already reparsed). Use Document.
  Snapshot(std::string path, const Language* language, std::string text, int64_t version, TreePtr tree);
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

  const std::string& path() const { return path_; }
  const Language* language() const { return language_; }  // null for plain text
  int64_t version() const { return version_; }
  const std::string& text() const { return text_; }
  const LineIndex& lines() const { return lines_; }
  const TSTree* tree() const { return tree_.get(); }  // null: no grammar or too large
  TSNode root() const;                                 // null node when no tree
  TreePtr copy_tree() const;                           // ts_tree_copy, null when no tree
  bool has_parse_errors() const;

  // Definitions and imports of the whole document, computed once (thread-safe) and cached.
  const SnapshotSymbols& symbols() const;

 private:
  std::string path_;
  const Language* language_;
  int64_t version_;
  std::string text_;
  LineIndex lines_;
  TreePtr tree_;
  mutable std::once_flag symbols_once_;
  mutable std::unique_ptr<SnapshotSymbols> symbols_;
};
using SnapshotPtr = std::shared_ptr<const Snapshot>;

// One LSP content change: a range edit, or the whole text when range is empty.
struct TextChange {
  std::optional<Range> range;
  std::string text;
};

class Document {
 public:
  Document(std::string path, const Language* language, std::string text, int64_t version);

  // Applies changes in order (LSP didChange semantics), each as ts_tree_edit + incremental
  // reparse. A range whose positions do not exist (past the end of a line or of the text) is
  // clamped the LSP way; an inverted range (end before start) is an error and leaves the
  // document unchanged (all changes of the call are rejected). A version not greater than the
  // current one is accepted (clients differ) but recorded.
  Status apply(std::span<const TextChange> changes, PositionEncoding encoding, int64_t version);
  // One edit in byte offsets: replaces [start_byte, end_byte) by new_text. Offsets are clamped
  // to the text and rounded down to character starts.
  Status apply_bytes(uint32_t start_byte, uint32_t end_byte, std::string_view new_text, int64_t version);

  SnapshotPtr snapshot() const { return current_; }
  const Snapshot& current() const { return *current_; }

 private:
  // index: a LineIndex of `text` as it is before the edit (built here when null).
  void edit_bytes(std::string& text, TreePtr& tree, uint32_t start, uint32_t end, std::string_view repl,
                  const LineIndex* index);

  SnapshotPtr current_;
  ParserPtr parser_;
};

// Parses text with a language (helper shared by Snapshot and the workspace indexer).
// Returns null when language is null or text is larger than kMaxParsedBytes.
TreePtr parse_text(TSParser* parser, const Language* language, std::string_view text, const TSTree* old_tree);

}  // namespace rapide::context
