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
//
// Parse time cap: a keystroke that breaks the syntax can send tree-sitter into error recovery
// that re-examines much of the file (15-90 ms measured on 10k-line files). A Document given a
// parse_time_cap stops the reparse when the cap is reached and publishes a snapshot with the new
// text and the last complete tree, edited to the new offsets (ts_tree_edit) but not reparsed:
// Snapshot::tree_stale() is true and unparsed() says which bytes the tree has not seen. The
// full reparse is then done elsewhere: parse_to_end() on any thread (the Workspace uses a
// background thread), then install_parse() publishes a fresh snapshot of the same version, or
// finish_parse() does both here. An edit that comes first makes a newer stale snapshot (the
// stale tree edited again), whose parse starts over. Interrupted parses are never resumed (a
// resumed tree-sitter parse can recover from errors differently from an uninterrupted one):
// every tree a snapshot publishes equals an uninterrupted incremental parse, deterministically.
//
// Parse budget: some grammars have inputs on which tree-sitter never finishes (tree-sitter-
// typescript issue #323, still open: the 16 bytes `<a {{b:>c:d(e f)` as TSX, alone or at the
// end of a file),
// so every parse of a document's text is bounded, through the same tree-sitter progress
// callback as the parse time cap: a parse stops when its wall time passes
// ParseBudget::for_bytes(text size), by default 1 s + 2 s per MiB of text (1.2 s for a 100 KiB
// file, 33 s at kMaxParsedBytes). Ordinary code parses from scratch at 0.12-0.6 s per MiB on the
// shared 2-core development machine (C, C++, JS, minified JS, TS, JSON measured), so the budget
// leaves a 3-20x margin and only cuts a parse that would not end, or not for a long time; the
// TSX text above is cut after 1 s, having grown the parser's memory by ~4 MB. A parse that exhausts
// its budget means "no tree for this version": the snapshot has no tree and parse_exhausted()
// is true; features fall back to lines as for plain text; the version is never parsed again (a
// retry would spin just as long). The next edit parses again, from scratch, within the cap and
// then the budget. So a document version costs at most parse_time_cap (on the editing thread)
// plus one budget (the first parse, finish_parse(), or the Workspace's background thread).
#pragma once

#include "rapide/context/languages.h"
#include "rapide/context/status.h"
#include "rapide/context/syntax.h"
#include "rapide/context/text.h"

#include <tree_sitter/api.h>

#include <atomic>
#include <chrono>
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

// The wall time a parse of a document's text may take (see the top of this file).
struct ParseBudget {
  std::chrono::milliseconds base{1000};
  std::chrono::microseconds per_mib{2000000};
  std::chrono::microseconds for_bytes(size_t text_bytes) const;
};

// How a bounded parse ended.
enum class ParseEnd {
  complete,       // a tree
  cancelled,      // the caller's cancel flag was set
  out_of_time,    // the time limit given (the parse budget or the edit's time cap) passed
  not_parsed,     // no grammar, text over kMaxParsedBytes, or the grammar cannot be loaded
};

// A byte range [start, end) of a text.
struct ByteSpan {
  uint32_t start = 0, end = 0;
  friend bool operator==(const ByteSpan&, const ByteSpan&) = default;
};

class Snapshot {
 public:
  // Parses text from scratch within `budget` (no tree, parse_exhausted(), when it runs out).
  // language may be null (plain text: no tree).
  Snapshot(std::string path, const Language* language, std::string text, int64_t version, ParseBudget budget = {});
  // Internal: the successor of an edited snapshot (tree already reparsed, or, with `unparsed`,
  // the previous tree edited but not reparsed; or no tree because the parse exhausted its
  // budget). Use Document.
  Snapshot(std::string path, const Language* language, std::string text, int64_t version, TreePtr tree,
           std::optional<ByteSpan> unparsed = std::nullopt, bool parse_exhausted = false);
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

  const std::string& path() const { return path_; }
  const Language* language() const { return language_; }  // null for plain text
  int64_t version() const { return version_; }
  const std::string& text() const { return text_; }
  const LineIndex& lines() const { return lines_; }
  // null: no grammar, too large, or the parse exhausted its budget (parse_exhausted())
  const TSTree* tree() const { return tree_.get(); }
  // True when this version has no tree because its parse ran out of its budget (see the top of
  // this file): features read the text as lines; an edit parses again.
  bool parse_exhausted() const { return parse_exhausted_; }
  // True when the tree is the last complete parse moved to this text's offsets, not a parse of
  // this text (see the parse time cap above). Outside unparsed() node positions and kinds are
  // right; inside, the tree does not describe the text (features use the text there).
  bool tree_stale() const { return unparsed_.has_value(); }
  std::optional<ByteSpan> unparsed() const { return unparsed_; }
  TSNode root() const;                                 // null node when no tree
  TreePtr copy_tree() const;                           // ts_tree_copy, null when no tree
  bool has_parse_errors() const;

  // Definitions and imports of the whole document, computed once (thread-safe) and cached.
  // Costly on large files (40-90 ms CPU on 10k lines): see Workspace::symbol_snapshots.
  const SnapshotSymbols& symbols() const;
  bool symbols_ready() const { return symbols_ready_.load(std::memory_order_acquire); }

 private:
  std::string path_;
  const Language* language_;
  int64_t version_;
  std::string text_;
  LineIndex lines_;
  TreePtr tree_;
  std::optional<ByteSpan> unparsed_;
  bool parse_exhausted_ = false;
  mutable std::once_flag symbols_once_;
  mutable std::unique_ptr<SnapshotSymbols> symbols_;
  mutable std::atomic<bool> symbols_ready_{false};
};
using SnapshotPtr = std::shared_ptr<const Snapshot>;

// One LSP content change: a range edit, or the whole text when range is empty.
struct TextChange {
  std::optional<Range> range;
  std::string text;
};

class Document {
 public:
  // parse_time_cap: zero parses to the end on every edit; otherwise see the top of this file.
  // The first parse (here) is never capped: a document starts with a complete tree, unless the
  // parse exhausts parse_budget (then it starts with none, parse_exhausted()). Every parse of
  // this document, capped or not, is bounded by parse_budget.
  Document(std::string path, const Language* language, std::string text, int64_t version,
           std::chrono::microseconds parse_time_cap = std::chrono::microseconds{0}, ParseBudget parse_budget = {});

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

  void set_parse_time_cap(std::chrono::microseconds cap) { parse_time_cap_ = cap; }
  void set_parse_budget(ParseBudget budget) { parse_budget_ = budget; }
  ParseBudget parse_budget() const { return parse_budget_; }
  // True while the current snapshot's reparse was cut short by the cap (tree_stale()).
  bool parse_pending() const { return current_->tree_stale(); }
  // Parses a stale snapshot's text to the end from its stale tree, with the caller's parser
  // (any language; set here), within `budget`. Thread-safe (reads only the immutable snapshot).
  // Returns null when `cancel` (optional) becomes true first, when the budget runs out, or when
  // the text cannot be parsed; `end` (optional) says which.
  static TreePtr parse_to_end(TSParser* parser, const Snapshot& stale, const std::atomic<bool>* cancel = nullptr,
                              ParseBudget budget = {}, ParseEnd* end = nullptr);
  // Makes `tree` (parse_to_end of `parsed`) current when `parsed` is still the current snapshot:
  // a new snapshot with the same text and version and that tree. Returns whether it did.
  bool install_parse(const SnapshotPtr& parsed, TreePtr tree);
  // After parse_to_end of `parsed` ended without a tree (out of time, or not parseable): when
  // `parsed` is still the current snapshot and pending, makes current a snapshot of the same
  // text and version with no tree and parse_exhausted(), so the parse is not tried again for
  // this version. Returns whether it did.
  bool give_up_parse(const SnapshotPtr& parsed);
  // parse_to_end (within this document's budget) + install_parse or give_up_parse of the current
  // snapshot, on this thread.
  void finish_parse();

 private:
  // index: a LineIndex of `text` as it is before the edit (built here when null).
  void edit_bytes(std::string& text, TreePtr& tree, uint32_t start, uint32_t end, std::string_view repl,
                  const LineIndex* index, std::optional<ByteSpan>& unparsed);
  // Parses `text` from the edited tree within the cap and makes it the current snapshot.
  void reparse(const Snapshot& cur, std::string text, TreePtr edited, int64_t version,
               std::optional<ByteSpan> unparsed);

  SnapshotPtr current_;
  ParserPtr parser_;
  std::chrono::microseconds parse_time_cap_{0};
  ParseBudget parse_budget_;
};

// Parses text with a language within `budget` (helper shared by Snapshot, the workspace indexer
// and tests: no tree-sitter parse of ours is unbounded). Returns null when language is null,
// text is larger than kMaxParsedBytes, or the budget runs out; `end` (optional) says which.
TreePtr parse_text(TSParser* parser, const Language* language, std::string_view text, const TSTree* old_tree,
                   ParseBudget budget = {}, ParseEnd* end = nullptr);

}  // namespace rapide::context
