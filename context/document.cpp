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

TreePtr parse_text(TSParser* parser, const Language* language, std::string_view text, const TSTree* old_tree) {
  if (!language || !parser || text.size() > kMaxParsedBytes) return nullptr;
  if (ts_parser_language(parser) != language->grammar()) {
    if (!ts_parser_set_language(parser, language->grammar())) return nullptr;
    old_tree = nullptr;
  }
  return TreePtr(ts_parser_parse_string_encoding(parser, old_tree, text.data(), static_cast<uint32_t>(text.size()),
                                                 TSInputEncodingUTF8));
}

Snapshot::Snapshot(std::string path, const Language* language, std::string text, int64_t version)
    : path_(std::move(path)), language_(language), version_(version), text_(sanitize_utf8(text)), lines_(text_) {
  if (language_ && text_.size() <= kMaxParsedBytes) {
    ParserPtr parser(ts_parser_new());
    tree_ = parse_text(parser.get(), language_, text_, nullptr);
  }
}

Snapshot::Snapshot(std::string path, const Language* language, std::string text, int64_t version, TreePtr tree)
    : path_(std::move(path)), language_(language), version_(version), text_(std::move(text)), lines_(text_),
      tree_(std::move(tree)) {}

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
  });
  return *symbols_;
}

Document::Document(std::string path, const Language* language, std::string text, int64_t version)
    : parser_(ts_parser_new()) {
  const std::string clean = sanitize_utf8(text);
  TreePtr tree = parse_text(parser_.get(), language, clean, nullptr);
  current_ = std::make_shared<Snapshot>(std::move(path), language, clean, version, std::move(tree));
}

void Document::edit_bytes(std::string& text, TreePtr& tree, uint32_t start, uint32_t end, std::string_view repl,
                          const LineIndex* index) {
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
  for (size_t i = 0; i < changes.size(); ++i) {
    const TextChange& c = changes[i];
    const std::string repl = sanitize_utf8(c.text);
    if (!c.range) {
      text = repl;
      tree.reset();
      continue;
    }
    const LineIndex lines(text);
    const uint32_t s = lines.offset(c.range->start, encoding), e = lines.offset(c.range->end, encoding);
    if (e < s)
      return Status::failure("change " + std::to_string(i) + " of " + cur.path() + ": range end (" +
                             std::to_string(c.range->end.line) + ":" + std::to_string(c.range->end.character) +
                             ") is before its start (" + std::to_string(c.range->start.line) + ":" +
                             std::to_string(c.range->start.character) + ")");
    edit_bytes(text, tree, s, e, repl, &lines);
  }
  TreePtr next = parse_text(parser_.get(), cur.language(), text, tree.get());
  current_ = std::make_shared<Snapshot>(cur.path(), cur.language(), std::move(text), version, std::move(next));
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
  edit_bytes(text, tree, s, e, sanitize_utf8(new_text), nullptr);
  TreePtr next = parse_text(parser_.get(), cur.language(), text, tree.get());
  current_ = std::make_shared<Snapshot>(cur.path(), cur.language(), std::move(text), version, std::move(next));
  return Status::success();
}

}  // namespace rapide::context
