#include "rapide/context/document.h"

#include <algorithm>

namespace rapide::context {
namespace {

TSPoint to_ts(ByteRowColumn p) { return TSPoint{p.row, p.column}; }

// tree-sitter point after inserting `s` at point `at`.
TSPoint advance(TSPoint at, std::string_view s) {
  for (char c : s) {
    if (c == '\n') {
      ++at.row;
      at.column = 0;
    } else {
      ++at.column;
    }
  }
  return at;
}

// The bytes the tree has not seen after replacing [start, old_end) by new_len bytes, given those
// it had not seen before: the old span moved through the edit, joined with the new text.
ByteSpan extend_unparsed(std::optional<ByteSpan> before, uint32_t start, uint32_t old_end, uint32_t new_len) {
  const uint32_t new_end = start + new_len;
  ByteSpan out{start, new_end};
  if (before) {
    const auto map = [&](uint32_t b) {
      if (b < start) return b;
      if (b >= old_end) return b - old_end + new_end;
      return new_end;
    };
    out.start = std::min(out.start, map(before->start));
    out.end = std::max(out.end, map(before->end));
  }
  return out;
}

struct StringInput {
  const char* data;
  uint32_t size;
};
const char* read_string(void* payload, uint32_t byte, TSPoint, uint32_t* bytes_read) {
  const auto* in = static_cast<const StringInput*>(payload);
  if (byte >= in->size) {
    *bytes_read = 0;
    return "";
  }
  *bytes_read = in->size - byte;
  return in->data + byte;
}

using Clock = std::chrono::steady_clock;

// The limits of one parse, checked by tree-sitter's progress callback (every 100 parser
// operations): a deadline and, optionally, a cancel flag.
struct ParseLimits {
  Clock::time_point deadline;
  const std::atomic<bool>* cancel = nullptr;
  bool out_of_time = false;
};
bool stop_parse(TSParseState* state) {
  auto* limits = static_cast<ParseLimits*>(state->payload);
  if (limits->cancel && limits->cancel->load(std::memory_order_relaxed)) return true;
  if (Clock::now() < limits->deadline) return false;
  limits->out_of_time = true;
  return true;
}

// The one way we run tree-sitter: a parse that stops when `limit` has passed or `cancel`
// (optional) is set, returning null. An interrupted parse is dropped (ts_parser_reset), never
// resumed. The parser's language must be set.
TreePtr parse_bounded(TSParser* parser, const TSTree* old_tree, std::string_view text, std::chrono::microseconds limit,
                      const std::atomic<bool>* cancel, ParseEnd* end) {
  StringInput in{text.data(), static_cast<uint32_t>(text.size())};
  const TSInput input{&in, &read_string, TSInputEncodingUTF8, nullptr};
  ParseLimits limits{Clock::now() + limit, cancel};
  TreePtr tree(ts_parser_parse_with_options(parser, old_tree, input, TSParseOptions{&limits, &stop_parse}));
  if (!tree) ts_parser_reset(parser);
  if (end) *end = tree ? ParseEnd::complete : limits.out_of_time ? ParseEnd::out_of_time : ParseEnd::cancelled;
  return tree;
}

// Sets the parser's language; false when the grammar cannot be loaded (ABI mismatch).
bool use_language(TSParser* parser, const Language& language) {
  return ts_parser_language(parser) == language.grammar() || ts_parser_set_language(parser, language.grammar());
}

uint32_t char_floor(std::string_view text, uint32_t byte) {
  byte = std::min<uint32_t>(byte, static_cast<uint32_t>(text.size()));
  while (byte > 0 && byte < text.size() && (static_cast<unsigned char>(text[byte]) & 0xC0) == 0x80) --byte;
  return byte;
}

}  // namespace

std::vector<uint64_t> token_set(std::string_view text) {
  std::vector<uint64_t> out;
  size_t i = 0;
  const auto word = [](unsigned char c) { return c == '_' || c >= 0x80 || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'); };
  while (i < text.size()) {
    if (!word(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    size_t j = i;
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    while (j < text.size() && word(static_cast<unsigned char>(text[j]))) {
      h = (h ^ static_cast<unsigned char>(text[j])) * 1099511628211ull;
      ++j;
    }
    if (j - i >= 2) out.push_back(h);
    i = j;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

double jaccard(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
  if (a.empty() || b.empty()) return 0.0;
  size_t i = 0, j = 0, common = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i] == b[j]) {
      ++common;
      ++i;
      ++j;
    } else if (a[i] < b[j]) {
      ++i;
    } else {
      ++j;
    }
  }
  return static_cast<double>(common) / static_cast<double>(a.size() + b.size() - common);
}

std::chrono::microseconds ParseBudget::for_bytes(size_t text_bytes) const {
  // No overflow: per_mib (microseconds) times bytes stays below 2^63 up to terabytes of text.
  return base + std::chrono::microseconds(per_mib.count() * static_cast<int64_t>(text_bytes) / (int64_t{1} << 20));
}

TreePtr parse_text(TSParser* parser, const Language* language, std::string_view text, const TSTree* old_tree,
                   ParseBudget budget, ParseEnd* end) {
  if (end) *end = ParseEnd::not_parsed;
  if (!language || !parser || text.size() > kMaxParsedBytes) return nullptr;
  if (ts_parser_language(parser) != language->grammar()) {
    if (!ts_parser_set_language(parser, language->grammar())) return nullptr;
    old_tree = nullptr;
  }
  return parse_bounded(parser, old_tree, text, budget.for_bytes(text.size()), nullptr, end);
}

Snapshot::Snapshot(std::string path, const Language* language, std::string text, int64_t version, ParseBudget budget)
    : path_(std::move(path)), language_(language), version_(version), text_(sanitize_utf8(text)), lines_(text_) {
  if (language_ && text_.size() <= kMaxParsedBytes) {
    ParserPtr parser(ts_parser_new());
    ParseEnd end = ParseEnd::not_parsed;
    tree_ = parse_text(parser.get(), language_, text_, nullptr, budget, &end);
    parse_exhausted_ = end == ParseEnd::out_of_time;
  }
}

Snapshot::Snapshot(std::string path, const Language* language, std::string text, int64_t version, TreePtr tree,
                   std::optional<ByteSpan> unparsed, bool parse_exhausted)
    : path_(std::move(path)), language_(language), version_(version), text_(std::move(text)), lines_(text_),
      tree_(std::move(tree)), unparsed_(unparsed), parse_exhausted_(parse_exhausted) {}

TSNode Snapshot::root() const { return tree_ ? ts_tree_root_node(tree_.get()) : TSNode{}; }

TreePtr Snapshot::copy_tree() const { return tree_ ? TreePtr(ts_tree_copy(tree_.get())) : nullptr; }

bool Snapshot::has_parse_errors() const { return tree_ && ts_node_has_error(ts_tree_root_node(tree_.get())); }

const SnapshotSymbols& Snapshot::symbols() const {
  std::call_once(symbols_once_, [this] {
    auto s = std::make_unique<SnapshotSymbols>();
    if (tree_ && language_) {
      s->definitions = extract_definitions(*language_, tree_.get(), text_);
      s->imports = extract_imports(*language_, tree_.get(), text_);
    }
    s->by_name.reserve(s->definitions.size());
    for (uint32_t i = 0; i < s->definitions.size(); ++i) s->by_name.emplace_back(s->definitions[i].name, i);
    std::sort(s->by_name.begin(), s->by_name.end());
    const uint32_t n_lines = lines_.line_count();
    for (uint32_t start = 0; start < n_lines; start += kSnippetStrideLines) {
      TokenWindow w;
      w.start_line = start;
      w.end_line = std::min(n_lines, start + kSnippetWindowLines);
      const uint32_t b = lines_.line_start(w.start_line), e = lines_.line_start(w.end_line);
      w.tokens = token_set(std::string_view(text_).substr(b, (w.end_line >= n_lines ? text_.size() : e) - b));
      if (!w.tokens.empty()) s->windows.push_back(std::move(w));
      if (w.end_line >= n_lines) break;
    }
    symbols_ = std::move(s);
    symbols_ready_.store(true, std::memory_order_release);
  });
  return *symbols_;
}

Document::Document(std::string path, const Language* language, std::string text, int64_t version,
                   std::chrono::microseconds parse_time_cap, ParseBudget parse_budget)
    : parser_(ts_parser_new()), parse_time_cap_(parse_time_cap), parse_budget_(parse_budget) {
  std::string clean = sanitize_utf8(text);
  // A placeholder predecessor (no tree) gives reparse the path and language; no cap yet.
  const Snapshot empty(path, language, std::string(), version, nullptr);
  parse_time_cap_ = std::chrono::microseconds{0};
  reparse(empty, std::move(clean), nullptr, version, std::nullopt);
  parse_time_cap_ = parse_time_cap;
}

void Document::reparse(const Snapshot& cur, std::string text, TreePtr edited, int64_t version,
                       std::optional<ByteSpan> unparsed) {
  const Language* lang = cur.language();
  bool can_parse = lang && text.size() <= kMaxParsedBytes;
  if (can_parse && ts_parser_language(parser_.get()) != lang->grammar()) {
    can_parse = ts_parser_set_language(parser_.get(), lang->grammar());
    edited.reset();
  }
  if (!can_parse) {
    current_ = std::make_shared<Snapshot>(cur.path(), lang, std::move(text), version, nullptr);
    return;
  }
  const std::chrono::microseconds budget = parse_budget_.for_bytes(text.size());
  const bool capped = parse_time_cap_.count() > 0 && parse_time_cap_ < budget;
  TreePtr next = parse_bounded(parser_.get(), edited.get(), text, capped ? parse_time_cap_ : budget, nullptr, nullptr);
  if (next) {
    current_ = std::make_shared<Snapshot>(cur.path(), lang, std::move(text), version, std::move(next));
    return;
  }
  if (!capped) {  // the whole budget is spent: no tree for this version
    current_ = std::make_shared<Snapshot>(cur.path(), lang, std::move(text), version, nullptr, std::nullopt, true);
    return;
  }
  // Cut by the cap: the edited tree (if any) at the new offsets; without one nothing is parsed.
  if (!edited) unparsed = ByteSpan{0, static_cast<uint32_t>(text.size())};
  current_ = std::make_shared<Snapshot>(cur.path(), lang, std::move(text), version, std::move(edited),
                                        unparsed.value_or(ByteSpan{}));
}

TreePtr Document::parse_to_end(TSParser* parser, const Snapshot& stale, const std::atomic<bool>* cancel,
                               ParseBudget budget, ParseEnd* end) {
  if (end) *end = ParseEnd::not_parsed;
  const Language* lang = stale.language();
  if (!lang || !parser || stale.text().size() > kMaxParsedBytes || !use_language(parser, *lang)) return nullptr;
  const TreePtr old = stale.copy_tree();  // a private copy: the snapshot's tree is shared
  return parse_bounded(parser, old.get(), stale.text(), budget.for_bytes(stale.text().size()), cancel, end);
}

bool Document::install_parse(const SnapshotPtr& parsed, TreePtr tree) {
  if (!tree || parsed != current_ || !current_->tree_stale()) return false;
  const Snapshot& cur = *current_;
  current_ = std::make_shared<Snapshot>(cur.path(), cur.language(), cur.text(), cur.version(), std::move(tree));
  return true;
}

bool Document::give_up_parse(const SnapshotPtr& parsed) {
  if (parsed != current_ || !current_->tree_stale()) return false;
  const Snapshot& cur = *current_;
  current_ =
      std::make_shared<Snapshot>(cur.path(), cur.language(), cur.text(), cur.version(), nullptr, std::nullopt, true);
  return true;
}

void Document::finish_parse() {
  if (!parse_pending()) return;
  const SnapshotPtr cur = current_;
  ParseEnd end = ParseEnd::not_parsed;
  TreePtr tree = parse_to_end(parser_.get(), *cur, nullptr, parse_budget_, &end);
  if (tree)
    install_parse(cur, std::move(tree));
  else
    give_up_parse(cur);
}

void Document::edit_bytes(std::string& text, TreePtr& tree, uint32_t start, uint32_t end, std::string_view repl,
                          const LineIndex* index, std::optional<ByteSpan>& unparsed) {
  unparsed = extend_unparsed(unparsed, start, end, static_cast<uint32_t>(repl.size()));
  if (tree) {
    // Points are computed on the text before the edit (start/old end) and after (new end).
    const LineIndex own = index ? LineIndex() : LineIndex(text);
    const LineIndex& before = index ? *index : own;
    TSInputEdit e;
    e.start_byte = start;
    e.old_end_byte = end;
    e.new_end_byte = start + static_cast<uint32_t>(repl.size());
    e.start_point = to_ts(before.point(start));
    e.old_end_point = to_ts(before.point(end));
    e.new_end_point = advance(e.start_point, repl);
    ts_tree_edit(tree.get(), &e);
  }
  text.replace(start, end - start, repl);
}

Status Document::apply(std::span<const TextChange> changes, PositionEncoding encoding, int64_t version) {
  const Snapshot& cur = *current_;
  std::string text = cur.text();
  TreePtr tree = cur.copy_tree();
  // Bytes the resulting tree will not have seen if the reparse is cut short.
  std::optional<ByteSpan> unparsed = cur.unparsed();
  for (size_t i = 0; i < changes.size(); ++i) {
    const TextChange& c = changes[i];
    const std::string repl = sanitize_utf8(c.text);
    if (!c.range) {
      text = repl;
      tree.reset();
      unparsed = ByteSpan{0, static_cast<uint32_t>(text.size())};
      continue;
    }
    const LineIndex lines(text);
    const uint32_t s = lines.offset(c.range->start, encoding), e = lines.offset(c.range->end, encoding);
    if (e < s)
      return Status::failure("change " + std::to_string(i) + " of " + cur.path() + ": range end (" +
                             std::to_string(c.range->end.line) + ":" + std::to_string(c.range->end.character) +
                             ") is before its start (" + std::to_string(c.range->start.line) + ":" +
                             std::to_string(c.range->start.character) + ")");
    edit_bytes(text, tree, s, e, repl, &lines, unparsed);
  }
  reparse(cur, std::move(text), std::move(tree), version, unparsed);
  return Status::success();
}

Status Document::apply_bytes(uint32_t start_byte, uint32_t end_byte, std::string_view new_text, int64_t version) {
  const Snapshot& cur = *current_;
  std::string text = cur.text();
  const uint32_t s = char_floor(text, start_byte), e = char_floor(text, end_byte);
  if (e < s)
    return Status::failure("edit of " + cur.path() + ": end byte " + std::to_string(end_byte) +
                           " is before start byte " + std::to_string(start_byte));
  TreePtr tree = cur.copy_tree();
  std::optional<ByteSpan> unparsed = cur.unparsed();
  edit_bytes(text, tree, s, e, sanitize_utf8(new_text), nullptr, unparsed);
  reparse(cur, std::move(text), std::move(tree), version, unparsed);
  return Status::success();
}

}  // namespace rapide::context
