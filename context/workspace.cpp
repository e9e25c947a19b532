#include "rapide/context/workspace.h"

#include "gitignore.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace rapide::context {
namespace fs = std::filesystem;
namespace {

std::string dir_of(std::string_view path) {
  const auto s = path.find_last_of('/');
  return s == std::string_view::npos ? std::string(".") : std::string(path.substr(0, s));
}

std::string normalize(const std::string& p) { return fs::path(p).lexically_normal().generic_string(); }

bool read_file(const fs::path& p, size_t max_bytes, std::string* out) {
  std::error_code ec;
  const auto size = fs::file_size(p, ec);
  if (ec || size > max_bytes) return false;
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  out->resize(size);
  in.read(out->data(), static_cast<std::streamsize>(size));
  return static_cast<size_t>(in.gcount()) == size;
}

bool skip_dir_name(std::string_view name) {
  return (name.size() > 1 && name[0] == '.') || name == "node_modules" || name.starts_with("build") ||
         name == "target" || name == "__pycache__" || name == "vendor" || name == "dist";
}

}  // namespace

struct Workspace::OpenDocument {
  template <class... A>
  explicit OpenDocument(A&&... args) : doc(std::forward<A>(args)...), published(doc.snapshot()) {}
  std::mutex edit_mutex;             // serializes edits and installing background parses
  std::atomic<bool> edited{false};   // set by each edit: a background parse of an older text stops
  Document doc;
  bool exhaustion_reported = false;  // (edit_mutex) the log said this document has no tree
  mutable std::mutex published_mutex;
  SnapshotPtr published;            // doc.snapshot(), readable without edit_mutex
  mutable SnapshotPtr with_symbols;  // newest published snapshot whose symbols are computed

  void publish() {
    SnapshotPtr s = doc.snapshot();
    std::lock_guard<std::mutex> lock(published_mutex);
    // Symbols computed by anyone on the version being replaced stay usable for lookups.
    if (published->symbols_ready() && (!with_symbols || published->version() >= with_symbols->version()))
      with_symbols = published;
    published = std::move(s);
  }
  SnapshotPtr get() const {
    std::lock_guard<std::mutex> lock(published_mutex);
    return published;
  }
  // The snapshot to read symbols from, and whether the current one's should be computed.
  SnapshotPtr for_symbols(bool* want_current) const {
    std::lock_guard<std::mutex> lock(published_mutex);
    *want_current = false;
    if (published->symbols_ready() || !with_symbols) {
      with_symbols = published;
      return published;
    }
    *want_current = true;
    return with_symbols;
  }
  void symbols_done(const SnapshotPtr& s) const {
    std::lock_guard<std::mutex> lock(published_mutex);
    if (!with_symbols || s->version() >= with_symbols->version()) with_symbols = s;
  }
};

Workspace::Workspace(WorkspaceOptions options) : options_(options) {}

Workspace::~Workspace() {
  {
    std::lock_guard<std::mutex> lock(index_mutex_);
    stop_ = true;
  }
  index_cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  {
    std::lock_guard<std::mutex> lock(parse_mutex_);
    parse_stop_ = true;
  }
  {
    std::lock_guard<std::mutex> lock(docs_mutex_);
    for (auto& [path, doc] : docs_) doc->edited = true;  // stops a running background parse
  }
  parse_cv_.notify_all();
  if (parse_worker_.joinable()) parse_worker_.join();
}

std::shared_ptr<Workspace::OpenDocument> Workspace::find_open(const std::string& path) const {
  std::lock_guard<std::mutex> lock(docs_mutex_);
  const auto it = docs_.find(path);
  return it == docs_.end() ? nullptr : it->second;
}

void Workspace::open(const std::string& path, std::string_view language_id, std::string text, int64_t version) {
  const Language* lang = language_by_id(language_id);
  if (!lang) lang = language_for_path(path);
  auto doc = std::make_shared<OpenDocument>(path, lang, std::move(text), version, options_.parse_time_cap,
                                            options_.parse_budget);
  std::string message;
  {
    std::lock_guard<std::mutex> edit(doc->edit_mutex);
    {
      std::lock_guard<std::mutex> lock(docs_mutex_);
      docs_[path] = doc;
    }
    if (doc->doc.parse_pending()) schedule_parse(path);
    message = note_parse(*doc);
  }
  write_log(message);
}

std::string Workspace::note_parse(OpenDocument& doc) {
  const Snapshot& s = doc.doc.current();
  if (s.tree()) doc.exhaustion_reported = false;
  if (!s.parse_exhausted()) return {};
  parses_out_of_budget_.fetch_add(1);
  if (doc.exhaustion_reported) return {};
  doc.exhaustion_reported = true;
  const auto budget_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      doc.doc.parse_budget().for_bytes(s.text().size()));
  return "rapide context: parsing " + s.path() + " (version " + std::to_string(s.version()) + ", " +
         std::to_string(s.text().size()) + " bytes, " + std::string(s.language() ? s.language()->id : "") +
         ") did not finish within its budget of " + std::to_string(budget_ms.count()) +
         " ms (a grammar that loops on this text?): no syntax tree for this version, completions use "
         "line-based context; the next edit parses again (reported once per document)";
}

void Workspace::write_log(const std::string& line) {
  if (line.empty() || !options_.log) return;
  std::lock_guard<std::mutex> lock(log_mutex_);
  options_.log(line);
}

Status Workspace::change(const std::string& path, std::span<const TextChange> changes, PositionEncoding encoding,
                         int64_t version) {
  const std::shared_ptr<OpenDocument> doc = find_open(path);
  if (!doc) return Status::failure("change of " + path + ": the document is not open");
  doc->edited = true;  // a background parse of the previous text is useless now
  Status status;
  std::string message;
  {
    std::lock_guard<std::mutex> edit(doc->edit_mutex);
    status = doc->doc.apply(changes, encoding, version);
    doc->edited = true;  // also when the parser took the previous snapshot just before the lock
    doc->publish();
    if (doc->doc.parse_pending()) schedule_parse(path);
    if (status) message = note_parse(*doc);
  }
  write_log(message);
  return status;
}

void Workspace::close(const std::string& path) {
  std::lock_guard<std::mutex> lock(docs_mutex_);
  docs_.erase(path);
}

SnapshotPtr Workspace::snapshot(const std::string& path) const {
  const std::shared_ptr<OpenDocument> doc = find_open(path);
  return doc ? doc->get() : nullptr;
}

std::vector<SnapshotPtr> Workspace::open_snapshots() const {
  std::lock_guard<std::mutex> lock(docs_mutex_);
  std::vector<SnapshotPtr> out;
  out.reserve(docs_.size());
  for (const auto& [path, doc] : docs_) out.push_back(doc->get());
  return out;
}

void Workspace::start_worker_locked() const {
  if (!parse_worker_.joinable() && !parse_stop_)
    parse_worker_ = std::thread([this] { const_cast<Workspace*>(this)->parse_loop(); });
}

void Workspace::schedule_parse(const std::string& path) {
  std::lock_guard<std::mutex> lock(parse_mutex_);
  parse_queue_.insert(path);
  start_worker_locked();
  parse_cv_.notify_all();
}

void Workspace::schedule_symbols(const std::string& path) const {
  std::lock_guard<std::mutex> lock(parse_mutex_);
  if (!symbols_queue_.insert(path).second) return;
  start_worker_locked();
  parse_cv_.notify_all();
}

std::vector<SnapshotPtr> Workspace::symbol_snapshots(std::string_view skip_path) const {
  std::vector<std::pair<std::string, std::shared_ptr<OpenDocument>>> docs;
  {
    std::lock_guard<std::mutex> lock(docs_mutex_);
    docs.assign(docs_.begin(), docs_.end());
  }
  std::vector<SnapshotPtr> out;
  out.reserve(docs.size());
  for (const auto& [path, doc] : docs) {
    if (path == skip_path) continue;
    bool want_current = false;
    out.push_back(doc->for_symbols(&want_current));
    if (want_current) schedule_symbols(path);
  }
  return out;
}

void Workspace::parse_loop() {
  ParserPtr parser(ts_parser_new());
  for (;;) {
    std::string path;
    {
      std::unique_lock<std::mutex> lock(parse_mutex_);
      parse_cv_.wait(lock, [this] { return parse_stop_ || !parse_queue_.empty() || !symbols_queue_.empty(); });
      if (parse_stop_) return;
      if (parse_queue_.empty()) {  // parses first: a stale tree's symbols would be wasted work
        path = *symbols_queue_.begin();
        lock.unlock();
        if (const std::shared_ptr<OpenDocument> doc = find_open(path)) {
          const SnapshotPtr s = doc->get();
          (void)s->symbols();  // no lock held: readers keep using the previous version meanwhile
          doc->symbols_done(s);
        }
        lock.lock();
        symbols_queue_.erase(path);
        parse_cv_.notify_all();
        continue;
      }
      auto it = parse_queue_.upper_bound(parse_last_);  // round robin among documents
      if (it == parse_queue_.end()) it = parse_queue_.begin();
      path = *it;
      parse_last_ = path;
    }
    const std::shared_ptr<OpenDocument> doc = find_open(path);
    SnapshotPtr stale;
    if (doc) {
      std::lock_guard<std::mutex> edit(doc->edit_mutex);
      if (doc->doc.parse_pending()) {
        stale = doc->doc.snapshot();
        doc->edited = false;
      }
    }
    // The parse runs without any lock, within the budget; an edit meanwhile (or the destructor)
    // stops it.
    ParseEnd end = ParseEnd::not_parsed;
    TreePtr tree =
        stale ? Document::parse_to_end(parser.get(), *stale, &doc->edited, options_.parse_budget, &end) : nullptr;
    bool done = true;
    std::string message;
    if (doc) {
      std::lock_guard<std::mutex> edit(doc->edit_mutex);
      // Out of budget (or not parseable): this version keeps no tree and is not tried again
      // (looping on it would spin forever on a text the grammar never finishes).
      const bool changed = tree ? doc->doc.install_parse(stale, std::move(tree))
                                : stale && end != ParseEnd::cancelled && doc->doc.give_up_parse(stale);
      if (changed) {
        doc->publish();
        message = note_parse(*doc);
      }
      done = !doc->doc.parse_pending();
      std::lock_guard<std::mutex> lock(parse_mutex_);
      if (done) parse_queue_.erase(path);
    } else {
      std::lock_guard<std::mutex> lock(parse_mutex_);
      parse_queue_.erase(path);  // closed
    }
    parse_cv_.notify_all();
    write_log(message);
  }
}

void Workspace::wait_parsed() const {
  std::unique_lock<std::mutex> lock(parse_mutex_);
  parse_cv_.wait(lock, [this] { return parse_stop_ || (parse_queue_.empty() && symbols_queue_.empty()); });
}

void Workspace::add_folder(const std::string& root) {
  if (!options_.background) {
    {
      std::lock_guard<std::mutex> lock(index_mutex_);
      folders_.push_back(normalize(root));
      stats_.running = true;
    }
    index_folder(normalize(root));
    std::lock_guard<std::mutex> lock(index_mutex_);
    stats_.running = false;
    return;
  }
  std::lock_guard<std::mutex> lock(index_mutex_);
  folders_.push_back(normalize(root));
  queue_.push_back(normalize(root));
  stats_.running = true;
  if (!worker_.joinable()) worker_ = std::thread([this] { indexer_loop(); });
  index_cv_.notify_all();
}

void Workspace::indexer_loop() {
  for (;;) {
    std::string root;
    {
      std::unique_lock<std::mutex> lock(index_mutex_);
      index_cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      root = queue_.front();
      queue_.erase(queue_.begin());
      busy_ = true;
    }
    index_folder(root);
    {
      std::lock_guard<std::mutex> lock(index_mutex_);
      busy_ = false;
      stats_.running = !queue_.empty();
    }
    index_cv_.notify_all();
  }
}

void Workspace::wait_idle() const {
  std::unique_lock<std::mutex> lock(index_mutex_);
  index_cv_.wait(lock, [this] { return stop_ || (queue_.empty() && !busy_); });
}

IndexStats Workspace::stats() const {
  std::lock_guard<std::mutex> lock(index_mutex_);
  return stats_;
}

void Workspace::add_indexed(IndexedFile file) {
  std::lock_guard<std::mutex> lock(index_mutex_);
  if (stats_.definitions + file.definitions.size() > options_.max_definitions) {
    stats_.truncated = true;
    ++stats_.files_skipped;
    return;
  }
  for (const Definition& d : file.definitions) {
    auto& paths = by_name_[d.name];
    if (paths.empty() || paths.back() != file.path) paths.push_back(file.path);
  }
  stats_.definitions += file.definitions.size();
  ++stats_.files_indexed;
  files_[file.path] = std::move(file.definitions);
}

void Workspace::index_folder(const std::string& root) {
  const auto t0 = std::chrono::steady_clock::now();
  ParserPtr parser(ts_parser_new());
  GitIgnore ignore;
  // Iterative depth-first walk in sorted order (deterministic), .gitignore files read as
  // directories are entered.
  std::vector<std::string> stack{""};  // relative directories
  while (!stack.empty()) {
    const std::string rel_dir = stack.back();
    stack.pop_back();
    const fs::path dir = rel_dir.empty() ? fs::path(root) : fs::path(root) / rel_dir;
    {
      std::string gi;
      if (read_file(dir / ".gitignore", 1 << 20, &gi)) ignore.add_rules(rel_dir, gi);
    }
    std::vector<std::pair<std::string, bool>> entries;  // (name, is_dir)
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      std::error_code ec2;
      const bool is_dir = it->is_directory(ec2) && !it->is_symlink(ec2);
      const bool is_file = it->is_regular_file(ec2);
      if (is_dir || is_file) entries.emplace_back(it->path().filename().string(), is_dir);
    }
    std::sort(entries.begin(), entries.end());
    std::vector<std::string> subdirs;
    for (const auto& [name, is_dir] : entries) {
      {
        std::lock_guard<std::mutex> lock(index_mutex_);
        if (stop_) return;
        const bool over_time = std::chrono::steady_clock::now() - t0 > options_.time_limit;
        if (over_time || stats_.files_indexed >= options_.max_files || stats_.bytes_read >= options_.max_total_bytes) {
          stats_.truncated = true;
          return;
        }
      }
      const std::string rel = rel_dir.empty() ? name : rel_dir + "/" + name;
      if (is_dir) {
        if (!skip_dir_name(name) && !ignore.ignored(rel, true)) subdirs.push_back(rel);
        continue;
      }
      const Language* lang = language_for_path(name);
      if (!lang || ignore.ignored(rel, false) || lang->id == "json") {
        std::lock_guard<std::mutex> lock(index_mutex_);
        ++stats_.files_skipped;
        continue;
      }
      std::string text;
      if (!read_file(dir / name, options_.max_file_bytes, &text)) {
        std::lock_guard<std::mutex> lock(index_mutex_);
        ++stats_.files_skipped;
        continue;
      }
      {
        std::lock_guard<std::mutex> lock(index_mutex_);
        stats_.bytes_read += text.size();
      }
      text = sanitize_utf8(text);
      TreePtr tree = parse_text(parser.get(), lang, text, nullptr, options_.parse_budget);  // none when out of budget
      IndexedFile f;
      f.path = normalize((fs::path(root) / rel).string());
      if (tree) f.definitions = extract_definitions(*lang, tree.get(), text);
      add_indexed(std::move(f));
    }
    for (auto it = subdirs.rbegin(); it != subdirs.rend(); ++it) stack.push_back(*it);
  }
}

std::vector<SymbolHit> Workspace::lookup(std::string_view name, size_t limit, std::string_view skip_path) const {
  std::vector<SymbolHit> hits;
  std::set<std::string> open_paths;
  for (const SnapshotPtr& s : open_snapshots()) open_paths.insert(s->path());
  for (const SnapshotPtr& s : symbol_snapshots(skip_path)) {
    const SnapshotSymbols& sym = s->symbols();
    auto it = std::lower_bound(sym.by_name.begin(), sym.by_name.end(), std::make_pair(name, uint32_t{0}));
    for (; it != sym.by_name.end() && it->first == name && hits.size() < limit; ++it)
      hits.push_back(SymbolHit{s->path(), sym.definitions[it->second], true});
  }
  std::lock_guard<std::mutex> lock(index_mutex_);
  const auto it = by_name_.find(std::string(name));
  if (it == by_name_.end()) return hits;
  std::vector<std::string> paths = it->second;
  std::sort(paths.begin(), paths.end());
  for (const std::string& p : paths) {
    if (open_paths.count(p)) continue;
    for (const Definition& d : files_.at(p))
      if (d.name == name && hits.size() < limit) hits.push_back(SymbolHit{p, d, false});
  }
  return hits;
}

std::vector<Definition> Workspace::definitions_of(const std::string& path) const {
  if (SnapshotPtr s = snapshot(path)) return s->symbols().definitions;
  std::lock_guard<std::mutex> lock(index_mutex_);
  const auto it = files_.find(normalize(path));
  return it == files_.end() ? std::vector<Definition>{} : it->second;
}

std::string Workspace::resolve_import(const Snapshot& from, const Import& import) const {
  if (!from.language() || import.target.empty()) return {};
  const std::string q(from.language()->queries);
  const std::string here = dir_of(from.path());
  std::vector<std::string> folders;
  {
    std::lock_guard<std::mutex> lock(index_mutex_);
    folders = folders_;
  }
  std::vector<std::string> candidates;
  const auto under_roots = [&](const std::string& rel, std::initializer_list<const char*> subdirs) {
    for (const std::string& f : folders)
      for (const char* sd : subdirs) candidates.push_back(f + (*sd ? std::string("/") + sd : "") + "/" + rel);
  };
  std::string target = import.target.substr(0, import.target.find('\n'));
  if (q == "c" || q == "cpp") {
    // the including file's folder, then its ancestors (and their include/), then the roots
    std::string d = here;
    for (int up = 0; up < 5 && !d.empty() && d != "." && d != "/"; ++up) {
      candidates.push_back(d + "/" + target);
      candidates.push_back(d + "/include/" + target);
      d = dir_of(d);
    }
    under_roots(target, {"", "include", "src"});
  } else if (q == "python") {
    size_t dots = 0;
    while (dots < target.size() && target[dots] == '.') ++dots;
    std::string rel = target.substr(dots);
    std::replace(rel.begin(), rel.end(), '.', '/');
    if (dots > 0) {
      std::string base = here;
      for (size_t k = 1; k < dots; ++k) base = dir_of(base);
      candidates.push_back(base + "/" + rel + ".py");
      candidates.push_back(base + "/" + rel + "/__init__.py");
    } else {
      candidates.push_back(here + "/" + rel + ".py");
      under_roots(rel + ".py", {"", "src"});
      under_roots(rel + "/__init__.py", {"", "src"});
    }
  } else if (q == "javascript" || q == "typescript") {
    if (!target.starts_with(".")) return {};
    for (const char* ext : {"", ".ts", ".tsx", ".js", ".jsx", ".mjs", ".d.ts", "/index.ts", "/index.tsx", "/index.js"})
      candidates.push_back(here + "/" + target + ext);
    // "./x.js" written for a TypeScript source "./x.ts"
    if (target.ends_with(".js")) candidates.push_back(here + "/" + target.substr(0, target.size() - 3) + ".ts");
  } else if (q == "rust") {
    if (target.find("::") == std::string::npos && target.find('{') == std::string::npos) {
      candidates.push_back(here + "/" + target + ".rs");
      candidates.push_back(here + "/" + target + "/mod.rs");
    }
    std::string path = target;
    bool crate = false;
    if (path.starts_with("crate::")) {
      path = path.substr(7);
      crate = true;
    } else if (path.starts_with("super::")) {
      path = "../" + path.substr(7);
    } else if (path.starts_with("self::")) {
      path = path.substr(6);
    }
    std::vector<std::string> parts;
    for (size_t s = 0;;) {
      const size_t e = path.find("::", s);
      parts.push_back(path.substr(s, e == std::string::npos ? std::string::npos : e - s));
      if (e == std::string::npos) break;
      s = e + 2;
    }
    for (size_t n = parts.size(); n > 0; --n) {
      std::string rel;
      for (size_t k = 0; k < n; ++k) rel += (k ? "/" : "") + parts[k];
      if (rel.find('{') != std::string::npos) continue;
      if (crate) {
        under_roots(rel + ".rs", {"src"});
        under_roots(rel + "/mod.rs", {"src"});
      } else {
        candidates.push_back(here + "/" + rel + ".rs");
      }
    }
  } else if (q == "lua") {
    std::string rel = target;
    std::replace(rel.begin(), rel.end(), '.', '/');
    candidates.push_back(here + "/" + rel + ".lua");
    under_roots(rel + ".lua", {"", "lua"});
    under_roots(rel + "/init.lua", {"", "lua"});
  } else if (q == "bash") {
    candidates.push_back(target.starts_with("/") ? target : here + "/" + target);
  } else if (q == "go" || q == "java") {
    // Packages: match by path suffix among open and indexed files.
    std::string rel = target;
    if (q == "java") {
      if (rel.starts_with("package") || rel.ends_with(".*")) return {};
      std::replace(rel.begin(), rel.end(), '.', '/');
      rel += ".java";
    }
    std::vector<std::string> known;
    for (const SnapshotPtr& s : open_snapshots()) known.push_back(s->path());
    {
      std::lock_guard<std::mutex> lock(index_mutex_);
      for (const auto& [p, d] : files_) known.push_back(p);
    }
    std::sort(known.begin(), known.end());
    for (const std::string& p : known) {
      if (q == "java" && (p == rel || p.ends_with("/" + rel))) return p;
      if (q == "go" && p.ends_with(".go") && !p.ends_with("_test.go")) {
        const std::string d = dir_of(p);
        // the import path's last segments name the directory
        std::string t = target;
        while (!t.empty()) {
          if (d == t || d.ends_with("/" + t)) return p;
          const size_t slash = t.find('/');
          if (slash == std::string::npos) break;
          t = t.substr(slash + 1);
          if (t.find('/') == std::string::npos) break;  // a bare last segment is too weak
        }
      }
    }
    return {};
  }
  for (const std::string& c : candidates) {
    const std::string n = normalize(c);
    if (snapshot(n)) return n;
    {
      std::lock_guard<std::mutex> lock(index_mutex_);
      if (files_.count(n)) return n;
    }
    std::error_code ec;
    if (fs::is_regular_file(n, ec)) return n;
  }
  return {};
}

}  // namespace rapide::context
