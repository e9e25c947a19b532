// The workspace: the store of open documents and an index of definitions over open documents and
// the files of the workspace folders.
//
// Thread-safety: every method may be called from any thread. Edits of a document are serialized
// by a mutex of that document (the LSP I/O thread normally makes them); readers take snapshots
// and never block writers for longer than a map lookup.
//
// Reparse time: each edit reparses within WorkspaceOptions::parse_time_cap (see document.h);
// when the cap cuts a reparse short, the edit returns at once with a stale-tree snapshot and a
// background thread (one per workspace, started on first need) reparses it without holding any
// lock, then publishes the fresh snapshot if no edit came meanwhile; an edit stops it and it
// starts over on the newest text. wait_parsed() waits for it.
//
// Parse budget (document.h): every parse of an open document is bounded by
// WorkspaceOptions::parse_budget. A version whose parse exhausts it (open, an uncapped edit, or
// the background parse) is published with no tree (Snapshot::parse_exhausted()); the background
// thread does not try that version again; completions use line-based context; the next edit
// parses again. The first exhaustion of a document is reported once through
// WorkspaceOptions::log (again only after one of its versions parsed within the budget).
//
// Definitions of open documents (Snapshot::symbols) cost 40-90 ms CPU per version of a 10k-line
// file, so they are computed off the completion path: lookups and snippet searches read the
// newest version of each document whose symbols are ready (symbol_snapshots) and ask the
// background thread for the current version's. Folder indexing runs on one
// background thread, bounded by WorkspaceOptions (files, bytes, time); it respects .gitignore
// files (the common subset: globs with * ? **, leading / anchors, trailing / for directories,
// ! negation) and skips hidden directories, node_modules and build*/ folders.
#pragma once

#include "rapide/context/document.h"
#include "rapide/context/status.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace rapide::context {

struct WorkspaceOptions {
  size_t max_files = 20000;                   // files indexed per workspace, all folders
  size_t max_file_bytes = 1u << 20;           // larger files are skipped
  size_t max_total_bytes = 256u << 20;        // text read, all folders
  size_t max_definitions = 400000;            // definitions kept in memory
  std::chrono::milliseconds time_limit{20000};  // wall time per folder scan
  bool background = true;  // false: add_folder indexes synchronously (tests, CLI)
  // Wall time an edit may spend reparsing (zero: no cap, edits always reparse to the end);
  // beyond it the reparse is done again in the background.
  std::chrono::microseconds parse_time_cap{4000};
  // Wall time any parse of a document version may take (document.h).
  ParseBudget parse_budget;
  // One line per event worth a log record (a parse that ran out of its budget). Called from
  // the thread that saw it (an editing thread or the background parser), never concurrently,
  // never with a lock of the workspace held. Null: nothing is reported.
  std::function<void(const std::string&)> log;
};

struct IndexStats {
  size_t files_indexed = 0;
  size_t files_skipped = 0;  // ignored, too large, unknown language, over a limit
  size_t bytes_read = 0;
  size_t definitions = 0;
  bool truncated = false;  // a limit stopped the scan
  bool running = false;
};

// A definition found somewhere in the workspace.
struct SymbolHit {
  std::string path;
  Definition definition;
  bool from_open_document = false;
};

class Workspace {
 public:
  explicit Workspace(WorkspaceOptions options = {});
  ~Workspace();  // stops and joins the indexer
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  // Open documents. language_id is the LSP languageId; when unknown the file extension decides;
  // when neither is known the document is plain text (no tree). Opening an open path replaces it.
  void open(const std::string& path, std::string_view language_id, std::string text, int64_t version);
  Status change(const std::string& path, std::span<const TextChange> changes, PositionEncoding encoding,
                int64_t version);
  void close(const std::string& path);
  SnapshotPtr snapshot(const std::string& path) const;  // null when not open
  std::vector<SnapshotPtr> open_snapshots() const;      // sorted by path
  // For each open document (sorted by path) the newest snapshot whose symbols() are computed,
  // which may be a few versions behind the current one while the background thread computes the
  // current one's (requested here). A document whose symbols were never computed gives its
  // current snapshot (its symbols are then computed by the caller, once per opened document).
  // Definitions and snippet windows are self-consistent per snapshot (texts come from it).
  // skip_path: a document left out (the one being completed).
  std::vector<SnapshotPtr> symbol_snapshots(std::string_view skip_path = {}) const;

  // Workspace folders: indexed in the background (or synchronously, see options).
  void add_folder(const std::string& root);
  void wait_idle() const;  // blocks until the indexer has finished its queue
  // Blocks until no open document has an interrupted reparse (every snapshot has a fresh tree)
  // and no symbols computation that was asked for is waiting.
  void wait_parsed() const;
  IndexStats stats() const;
  // Parses of open-document versions that ran out of their budget since the workspace was made.
  size_t parses_out_of_budget() const { return parses_out_of_budget_.load(); }

  // Definitions named `name`: open documents first (sorted by path, then position), then indexed
  // files (sorted by path). At most `limit` hits. Deterministic.
  // skip_path: a document to leave out (the one being completed: its own definitions are in
  // its prefix, and indexing it on every keystroke would cost a full query per keystroke).
  std::vector<SymbolHit> lookup(std::string_view name, size_t limit = 16, std::string_view skip_path = {}) const;

  // The file an import of `from` refers to, when it resolves to an open document or an indexed
  // or existing file: C/C++ includes relative to the file then to each folder (and its include/,
  // src/); Python dotted modules; JS/TS relative specifiers with extensions/index files; Rust
  // `mod x;` and crate:: paths; Go import paths matched by directory suffix; Java packages by
  // directory; Lua require names. Empty when unresolved.
  std::string resolve_import(const Snapshot& from, const Import& import) const;

  // Definitions of a file on disk or open (used after resolve_import). Empty when unknown.
  std::vector<Definition> definitions_of(const std::string& path) const;

 private:
  struct IndexedFile {
    std::string path;
    std::vector<Definition> definitions;
  };
  struct OpenDocument;  // a Document, its edit mutex and its published snapshot
  std::shared_ptr<OpenDocument> find_open(const std::string& path) const;
  void schedule_parse(const std::string& path);  // called with the document's edit mutex held
  void schedule_symbols(const std::string& path) const;
  // After a document's current snapshot changed (edit mutex held): counts a parse that ran out
  // of budget and returns the log line to write (once per document until a version parses).
  std::string note_parse(OpenDocument& doc);
  void write_log(const std::string& line);
  void start_worker_locked() const;  // parse_mutex_ held
  void parse_loop();
  void indexer_loop();
  void index_folder(const std::string& root);
  void add_indexed(IndexedFile file);

  WorkspaceOptions options_;
  mutable std::mutex docs_mutex_;
  std::map<std::string, std::shared_ptr<OpenDocument>> docs_;

  // Documents whose reparse was cut short by the cap, finished by parse_worker_.
  mutable std::mutex parse_mutex_;
  mutable std::condition_variable parse_cv_;
  std::set<std::string> parse_queue_;
  mutable std::set<std::string> symbols_queue_;  // documents whose current symbols were asked for
  std::string parse_last_;  // round robin among documents
  bool parse_stop_ = false;
  mutable std::thread parse_worker_;

  std::atomic<size_t> parses_out_of_budget_{0};
  std::mutex log_mutex_;

  mutable std::mutex index_mutex_;
  mutable std::condition_variable index_cv_;
  std::map<std::string, std::vector<Definition>> files_;                 // indexed files by path
  std::unordered_map<std::string, std::vector<std::string>> by_name_;   // name -> paths (sorted)
  std::vector<std::string> folders_;
  std::vector<std::string> queue_;
  IndexStats stats_;
  bool busy_ = false;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace rapide::context
