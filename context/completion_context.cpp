#include "rapide/context/completion_context.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <unordered_set>

namespace rapide::context {
namespace {

bool is_word(unsigned char c) {
  return c == '_' || c >= 0x80 || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

// First non-blank byte of a line (line end when blank).
uint32_t first_non_blank(const LineIndex& lines, uint32_t line) {
  const std::string_view t = lines.line_text(line);
  size_t i = 0;
  while (i < t.size() && (t[i] == ' ' || t[i] == '\t')) ++i;
  return lines.line_start(line) + static_cast<uint32_t>(i);
}

// A line is a clean cut when no token spans its start: blank lines, and lines whose first
// non-blank byte starts a leaf of the tree (not the inside of a string, comment or other token).
bool clean_cut(const Snapshot& doc, uint32_t line) {
  if (!doc.tree()) return true;
  const LineIndex& lines = doc.lines();
  if (const auto u = doc.unparsed(); u && lines.line_start(line) >= u->start && lines.line_start(line) <= u->end)
    return true;  // the stale tree does not describe these bytes: cut at lines, as without a tree
  const uint32_t b = first_non_blank(lines, line);
  if (b >= lines.line_end(line)) {
    // blank line: clean unless inside a multi-line token (e.g. a blank line of a docstring)
    const TSNode leaf = ts_node_descendant_for_byte_range(doc.root(), lines.line_start(line), lines.line_start(line));
    return ts_node_child_count(leaf) > 0 || ts_node_start_byte(leaf) >= lines.line_start(line) ||
           ts_node_end_byte(leaf) <= lines.line_start(line);
  }
  const TSNode leaf = ts_node_descendant_for_byte_range(doc.root(), b, b);
  return ts_node_start_byte(leaf) == b || ts_node_end_byte(leaf) <= b;
}

std::string_view view(const std::string& text, uint32_t b, uint32_t e) {
  return std::string_view(text).substr(b, e > b ? e - b : 0);
}

constexpr std::string_view kKeywords[] = {
    "if", "else", "for", "while", "return", "true", "false", "null", "nullptr", "None", "True", "False", "self",
    "this", "def", "class", "int", "char", "void", "auto", "const", "let", "var", "fn", "func", "struct", "new",
    "in", "and", "or", "not", "is", "import", "from", "std", "string", "bool", "float", "double", "print",
    "len", "range", "Self", "mut", "pub", "impl", "static", "public", "private", "package", "nil", "err",
    "local", "function", "end", "then", "do", "async", "await", "export", "type", "interface", "size_t",
    "uint32_t", "int64_t", "uint64_t", "int32_t", "uint8_t", "str", "list", "dict", "String", "Vec", "Option",
    "Result", "Ok", "Err", "Some", "i32", "u32", "i64", "u64", "usize", "f32", "f64", "u8", "boolean", "Object",
    "Integer", "List", "Map", "console", "super", "throw", "try", "catch", "match", "switch", "case", "break",
    "continue", "yield", "lambda", "with", "as", "elif", "except", "raise", "pass", "go", "defer", "chan",
    "range", "select", "extends", "implements", "final", "override", "virtual", "template", "typename",
    "namespace", "using", "sizeof", "unsigned", "signed", "long", "short", "enum", "union", "typedef"};

bool is_keyword(std::string_view w) {
  for (std::string_view k : kKeywords)
    if (k == w) return true;
  return false;
}

// Accepted line ranges per file: a piece overlapping an accepted one is redundant.
struct Taken {
  std::map<std::string, std::vector<std::pair<uint32_t, uint32_t>>> ranges;
  bool overlaps(const std::string& path, uint32_t a, uint32_t b) const {
    const auto it = ranges.find(path);
    if (it == ranges.end()) return false;
    for (const auto& [s, e] : it->second)
      if (a <= e && s <= b) return true;
    return false;
  }
  void add(const std::string& path, uint32_t a, uint32_t b) { ranges[path].emplace_back(a, b); }
};

struct Candidate {
  ContextPiece piece;
  double score = 0;  // ranking within its kind (higher first)
};

}  // namespace

std::string_view piece_kind_name(PieceKind kind) {
  switch (kind) {
    case PieceKind::definition: return "definition";
    case PieceKind::snippet: return "snippet";
    case PieceKind::import: return "import";
    case PieceKind::enclosing_header: return "enclosing-header";
    case PieceKind::prefix: return "prefix";
    case PieceKind::suffix: return "suffix";
  }
  return "?";
}

int approximate_tokens(std::string_view text) {
  // Code tokenizers spend ~1 token per identifier piece of ~6 bytes, 1 per punctuation run of
  // up to 2 characters, and 1 per run of up to 4 spaces (newlines count as one).
  int n = 0;
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    size_t j = i + 1;
    if (is_word(c)) {
      while (j < text.size() && is_word(static_cast<unsigned char>(text[j]))) ++j;
      n += 1 + static_cast<int>((j - i - 1) / 6);
    } else if (c == ' ' || c == '\t') {
      while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) ++j;
      n += 1 + static_cast<int>((j - i - 1) / 8);
    } else if (c == '\n' || c == '\r') {
      n += 1;
    } else {
      if (j < text.size() && !is_word(static_cast<unsigned char>(text[j])) && text[j] != ' ' && text[j] != '\n') ++j;
      n += 1;
    }
    i = j;
  }
  return n;
}

CompletionContext build_completion_context(const Workspace& workspace, const Snapshot& doc, uint32_t cursor_byte,
                                           const ContextOptions& options) {
  const TokenCounter count = options.count_tokens ? options.count_tokens : TokenCounter(&approximate_tokens);
  const std::string& text = doc.text();
  const LineIndex& lines = doc.lines();
  const Language* lang = doc.language();
  const TSTree* tree = doc.tree();
  const int budget = std::max(1, options.budget_tokens);

  CompletionContext ctx;
  ctx.path = doc.path();
  ctx.language = lang ? std::string(lang->id) : std::string();
  ctx.budget_tokens = budget;
  ctx.comment_prefix = lang ? std::string(lang->line_comment) : std::string("#");
  const std::string elision = (ctx.comment_prefix.empty() ? std::string("...") : ctx.comment_prefix + " ...");

  // A cursor between the "\r" and "\n" of a CRLF is inside the line terminator: LineIndex::clamp
  // puts it before the "\r" (where LSP positions of that line end map), so cursor <= line_end <=
  // suffix_end holds and no piece splits a terminator.
  const uint32_t cursor = lines.clamp(cursor_byte);
  ctx.cursor_byte = cursor;
  ctx.tree_stale = doc.tree_stale();
  ctx.parse_exhausted = doc.parse_exhausted();
  const uint32_t cur_line = lines.line_of(cursor);
  const uint32_t n_lines = lines.line_count();
  int used = 0;

  // ---- 1. the cursor line (mandatory) ----
  const uint32_t line_start = lines.line_start(cur_line);
  const uint32_t line_end = lines.line_end(cur_line);
  used += count(view(text, line_start, cursor)) + count(view(text, cursor, line_end));

  // ---- 2. minimum prefix window ----
  uint32_t win_line = cur_line;
  const int prefix_cap = static_cast<int>(options.prefix_share * budget);
  std::vector<int> line_tokens;  // tokens of lines win_line.. (cached while growing)
  int prefix_tokens = count(view(text, line_start, cursor));
  auto grow_prefix = [&](uint32_t max_lines, int cap) {
    while (win_line > 0 && cur_line - win_line < max_lines) {
      const uint32_t l = win_line - 1;
      const int t = count(view(text, lines.line_start(l), lines.line_start(l + 1)));
      if (prefix_tokens + t > cap || used + t > budget) return;
      prefix_tokens += t;
      used += t;
      win_line = l;
    }
  };
  grow_prefix(options.min_prefix_lines, prefix_cap);

  // ---- 3. suffix: rest of the enclosing block ----
  uint32_t suffix_end_line = cur_line;  // inclusive
  {
    uint32_t block_end_line = std::min(n_lines - 1, cur_line + options.max_suffix_lines);
    if (tree && lang) {
      const TSNode scope = enclosing_scope(*lang, tree, cursor, cursor);
      if (!ts_node_is_null(scope)) {
        uint32_t e = ts_node_end_byte(scope);
        // indentation blocks end at their last statement: take the line of the end
        const uint32_t el = lines.line_of(e > 0 && lang->indentation_scoped ? e - 1 : e);
        block_end_line = std::min(block_end_line, el);
      } else {
        block_end_line = std::min(block_end_line, cur_line + 4);
      }
    }
    const int suffix_cap = std::max(1, static_cast<int>(options.suffix_share * budget));
    int suffix_tokens = 0;
    for (uint32_t l = cur_line + 1; l <= block_end_line && l < n_lines; ++l) {
      const int t = count(view(text, lines.line_start(l), lines.line_end(l))) + 1;
      if (suffix_tokens + t > suffix_cap || used + t > budget) break;
      suffix_tokens += t;
      used += t;
      suffix_end_line = l;
    }
  }
  const uint32_t suffix_end = lines.line_end(suffix_end_line);
  ctx.suffix = std::string(view(text, cursor, suffix_end));
  ctx.suffix_end_byte = suffix_end;

  // ---- 4. enclosing headers, 5. imports (current file) ----
  std::vector<Candidate> local;  // headers and imports
  // Imports of this file: the first 400 lines (where imports live), top-level statements only.
  const std::vector<Import> file_imports =
      tree && lang ? extract_imports(*lang, tree, text, 0, lines.line_start(std::min(n_lines - 1, 400u)) + 1)
                   : std::vector<Import>{};
  if (tree && lang) {
    TSNode n = ts_node_descendant_for_byte_range(doc.root(), cursor, cursor);
    std::vector<Candidate> headers;
    for (; !ts_node_is_null(n); n = ts_node_parent(n)) {
      const TSNode body = ts_node_child_by_field_name(n, "body", 4);
      if (ts_node_is_null(body)) continue;
      const uint32_t s = ts_node_start_byte(n), bs = ts_node_start_byte(body);
      if (bs > cursor || ts_node_end_byte(body) < cursor) continue;
      const uint32_t sl = lines.line_of(s);
      uint32_t hl = lines.line_of(bs);
      if (lang->indentation_scoped && hl > sl) hl -= 1;  // Python: body starts on the next line
      if (hl >= sl + 4) hl = sl + 3;
      Candidate c;
      c.piece.kind = PieceKind::enclosing_header;
      c.piece.path = doc.path();
      c.piece.start_line = sl;
      c.piece.end_line = hl;
      c.piece.text = std::string(view(text, lines.line_start(sl), lines.line_end(hl)));
      c.piece.reason = std::string("header of the enclosing ") + ts_node_type(n) + " (line " +
                       std::to_string(sl + 1) + ")";
      headers.push_back(std::move(c));
    }
    std::reverse(headers.begin(), headers.end());  // outermost first
    for (Candidate& h : headers) local.push_back(std::move(h));
    for (const Import& im : file_imports) {
      if (im.start_byte >= lines.line_start(win_line)) continue;
      Candidate c;
      c.piece.kind = PieceKind::import;
      c.piece.path = doc.path();
      c.piece.start_line = lines.line_of(im.start_byte);
      c.piece.end_line = lines.line_of(im.end_byte > 0 ? im.end_byte - 1 : 0);
      c.piece.text = im.text;
      c.piece.reason = "import of this file" + (im.target.empty() ? std::string() : ": " + im.target.substr(0, im.target.find('\n')));
      local.push_back(std::move(c));
    }
  }
  std::vector<ContextPiece> kept_local;
  for (Candidate& c : local) {
    if (c.piece.end_line >= win_line) continue;  // already in the window
    c.piece.tokens = count(c.piece.text) + 1;
    if (used + c.piece.tokens > budget || prefix_tokens + c.piece.tokens > prefix_cap) continue;
    used += c.piece.tokens;
    prefix_tokens += c.piece.tokens;
    kept_local.push_back(std::move(c.piece));
  }

  // ---- 6. definitions of identifiers near the cursor ----
  std::vector<ContextPiece> cross;
  Taken taken;
  if (tree && lang) {
    // Files this document imports, resolved.
    std::set<std::string> imported;
    for (const Import& im : file_imports) {
      const std::string p = workspace.resolve_import(doc, im);
      if (!p.empty()) imported.insert(p);
    }
    const uint32_t near_start = lines.line_start(cur_line > options.near_cursor_lines ? cur_line - options.near_cursor_lines : 0);
    const uint32_t near_end = lines.line_end(std::min(n_lines - 1, cur_line + options.near_cursor_lines / 3));
    std::vector<Reference> refs = extract_references(*lang, tree, text, near_start, near_end);
    if (const auto u = doc.unparsed()) {
      // Stale tree (reparse still running): its identifiers inside the edited bytes are not the
      // text's. Take the identifiers there from the text instead.
      const uint32_t a = std::max(near_start, u->start), b = std::min(near_end, u->end);
      std::erase_if(refs, [&](const Reference& r) { return r.start_byte + r.name.size() > u->start && r.start_byte < u->end; });
      if (a < b) {
        uint32_t i = a;
        while (i > 0 && is_word(static_cast<unsigned char>(text[i - 1]))) --i;  // whole words only
        while (i < b) {
          if (!is_word(static_cast<unsigned char>(text[i]))) {
            ++i;
            continue;
          }
          uint32_t j = i;
          while (j < text.size() && is_word(static_cast<unsigned char>(text[j]))) ++j;
          const unsigned char first = static_cast<unsigned char>(text[i]);
          if (!(first >= '0' && first <= '9')) refs.push_back(Reference{std::string_view(text).substr(i, j - i), i});
          i = j;
        }
      }
    }
    std::stable_sort(refs.begin(), refs.end(), [&](const Reference& a, const Reference& b) {
      const uint32_t da = a.start_byte > cursor ? a.start_byte - cursor : cursor - a.start_byte;
      const uint32_t db = b.start_byte > cursor ? b.start_byte - cursor : cursor - b.start_byte;
      return da != db ? da < db : a.start_byte < b.start_byte;
    });
    std::unordered_set<std::string_view> seen;
    size_t n_defs = 0;
    for (const Reference& r : refs) {
      if (n_defs >= options.max_definitions) break;
      if (r.name.size() < 2 || is_keyword(r.name) || !seen.insert(r.name).second) continue;
      if (r.start_byte <= cursor && r.start_byte + r.name.size() >= cursor) continue;  // the word being typed
      std::vector<SymbolHit> hits = workspace.lookup(r.name, 8, doc.path());
      std::stable_sort(hits.begin(), hits.end(), [&](const SymbolHit& a, const SymbolHit& b) {
        const int ra = imported.count(a.path) ? 0 : a.from_open_document ? 1 : 2;
        const int rb = imported.count(b.path) ? 0 : b.from_open_document ? 1 : 2;
        return ra < rb;
      });
      for (const SymbolHit& h : hits) {
        if (h.path == doc.path()) continue;
        if (taken.overlaps(h.path, h.definition.start_row, h.definition.end_row)) break;
        const Definition& d = h.definition;
        ContextPiece p;
        p.kind = PieceKind::definition;
        p.path = h.path;
        p.start_line = d.start_row;
        p.end_line = d.end_row;
        const bool small = !d.text_if_small.empty() && d.end_row - d.start_row + 1 <= options.small_body_lines;
        p.text = small ? d.text_if_small : d.signature;
        p.tokens = count(p.text) + 1;
        const uint32_t use_line = lines.line_of(r.start_byte) + 1;
        p.reason = "definition of `" + d.name + "` (" + d.kind + (d.container.empty() ? "" : " of " + d.container) +
                   (small ? ", whole" : ", signature") + "), used at line " + std::to_string(use_line) +
                   (imported.count(h.path) ? "; imported by this file" : h.from_open_document ? "; open document" : "; workspace index");
        if (used + p.tokens > budget) continue;
        used += p.tokens;
        taken.add(p.path, p.start_line, p.end_line);
        cross.push_back(std::move(p));
        ++n_defs;
        break;  // the best hit per name
      }
    }
  }

  // ---- 7. similar snippets from other open documents ----
  {
    const uint32_t q_start = lines.line_start(cur_line >= kSnippetWindowLines ? cur_line - kSnippetWindowLines : 0);
    const std::vector<uint64_t> query = token_set(view(text, q_start, cursor));
    struct Scored {
      double score;
      SnapshotPtr snap;
      uint32_t start_line, end_line;
    };
    std::vector<Scored> scored;
    if (!query.empty()) {
      for (const SnapshotPtr& s : workspace.symbol_snapshots(doc.path())) {  // no new version's computed here
        if (s->path() == doc.path()) continue;
        // best window per document, non-overlapping runner-up too
        const SnapshotSymbols& sym = s->symbols();
        double best = 0, second = 0;
        const TokenWindow* bw = nullptr;
        const TokenWindow* sw = nullptr;
        for (const TokenWindow& w : sym.windows) {
          const double j = jaccard(query, w.tokens);
          if (j > best) {
            if (bw && bw->end_line <= w.start_line) {
              second = best;
              sw = bw;
            }
            best = j;
            bw = &w;
          } else if (j > second && bw && (w.start_line >= bw->end_line || w.end_line <= bw->start_line)) {
            second = j;
            sw = &w;
          }
        }
        if (bw && best >= options.min_snippet_similarity) scored.push_back({best, s, bw->start_line, bw->end_line});
        if (sw && second >= options.min_snippet_similarity) scored.push_back({second, s, sw->start_line, sw->end_line});
      }
    }
    std::sort(scored.begin(), scored.end(), [](const Scored& a, const Scored& b) {
      if (a.score != b.score) return a.score > b.score;
      if (a.snap->path() != b.snap->path()) return a.snap->path() < b.snap->path();
      return a.start_line < b.start_line;
    });
    size_t n_snippets = 0;
    for (const Scored& sc : scored) {
      if (n_snippets >= options.max_snippets) break;
      const LineIndex& ol = sc.snap->lines();
      ContextPiece p;
      p.kind = PieceKind::snippet;
      p.path = sc.snap->path();
      p.start_line = sc.start_line;
      p.end_line = sc.end_line - 1;
      p.text = std::string(view(sc.snap->text(), ol.line_start(sc.start_line), ol.line_end(sc.end_line - 1)));
      p.tokens = count(p.text) + 1;
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.2f", sc.score);
      p.reason = std::string("similar to the lines before the cursor (Jaccard ") + buf + ")";
      if (used + p.tokens > budget || taken.overlaps(p.path, p.start_line, p.end_line)) continue;
      used += p.tokens;
      taken.add(p.path, p.start_line, p.end_line);
      cross.push_back(std::move(p));
      ++n_snippets;
    }
  }

  // ---- 8. more prefix, then cut at a syntax boundary ----
  grow_prefix(options.max_prefix_lines, prefix_cap);
  if (tree && win_line > 0) {
    // Prefer a line opening a node whose parent encloses the cursor (searching 40 lines down).
    std::vector<TSNode> path;
    for (TSNode n = ts_node_descendant_for_byte_range(doc.root(), cursor, cursor); !ts_node_is_null(n); n = ts_node_parent(n))
      path.push_back(n);
    const auto on_path = [&](TSNode n) {
      for (const TSNode& p : path)
        if (ts_node_eq(p, n)) return true;
      return false;
    };
    // Give up at most a third of the window for it.
    const uint32_t search = std::min<uint32_t>(40, (cur_line - win_line) / 3);
    for (uint32_t l = win_line; l < cur_line && l <= win_line + search; ++l) {
      const uint32_t b = first_non_blank(lines, l);
      if (b >= lines.line_end(l)) continue;
      TSNode n = ts_node_descendant_for_byte_range(doc.root(), b, b);
      if (ts_node_start_byte(n) != b) continue;
      while (true) {
        const TSNode p = ts_node_parent(n);
        if (ts_node_is_null(p) || ts_node_start_byte(p) != b) break;
        n = p;
      }
      if (on_path(ts_node_parent(n))) {
        for (uint32_t k = win_line; k < l; ++k) used -= count(view(text, lines.line_start(k), lines.line_start(k + 1)));
        win_line = l;
        break;
      }
    }
  }
  while (win_line < cur_line && !clean_cut(doc, win_line)) {
    const int t = count(view(text, lines.line_start(win_line), lines.line_start(win_line + 1)));
    used -= t;
    ++win_line;
  }
  ctx.window_start_byte = lines.line_start(win_line);

  // ---- layout ----
  // Cross-file: grouped per file, files sorted by path, pieces in file order; a definition
  // inside a snippet's lines is dropped (the snippet shows it).
  std::map<std::string, std::vector<ContextPiece>> by_file;
  for (ContextPiece& p : cross) by_file[p.path].push_back(std::move(p));
  for (auto& [path, pieces] : by_file) {
    std::sort(pieces.begin(), pieces.end(), [](const ContextPiece& a, const ContextPiece& b) {
      return a.start_line != b.start_line ? a.start_line < b.start_line : a.end_line > b.end_line;
    });
    std::vector<ContextPiece> merged;
    for (ContextPiece& p : pieces) {
      if (!merged.empty() && p.start_line >= merged.back().start_line && p.end_line <= merged.back().end_line) {
        used -= p.tokens;
        continue;
      }
      merged.push_back(std::move(p));
    }
    CrossFileItem item;
    item.path = path;
    for (size_t i = 0; i < merged.size(); ++i) {
      if (i > 0) item.text += "\n" + elision + "\n";
      item.text += merged[i].text;
      ctx.pieces.push_back(merged[i]);
    }
    item.text += "\n";
    ctx.cross_file.push_back(std::move(item));
  }
  // Prefix: imports, then headers (each followed by an elision when the next part is not
  // contiguous), then the window.
  std::sort(kept_local.begin(), kept_local.end(), [](const ContextPiece& a, const ContextPiece& b) {
    return a.start_line != b.start_line ? a.start_line < b.start_line : a.end_line > b.end_line;
  });
  uint32_t next_line = 0;
  for (ContextPiece& p : kept_local) {
    if (p.end_line >= win_line) {
      used -= p.tokens;
      continue;
    }
    if (p.start_line > next_line) {
      bool all_blank = true;
      for (uint32_t l = next_line; l < p.start_line && all_blank; ++l)
        all_blank = lines.line_text(l).find_first_not_of(" \t") == std::string_view::npos;
      if (all_blank)
        for (uint32_t l = next_line; l < p.start_line; ++l) ctx.prefix += "\n";
      else
        ctx.prefix += elision + "\n";
    }
    ctx.prefix += p.text + "\n";
    next_line = p.end_line + 1;
    ctx.pieces.push_back(std::move(p));
  }
  if (!ctx.prefix.empty() && win_line > next_line) {
    bool all_blank = true;
    for (uint32_t l = next_line; l < win_line && all_blank; ++l)
      all_blank = lines.line_text(l).find_first_not_of(" \t") == std::string_view::npos;
    if (all_blank)
      for (uint32_t l = next_line; l < win_line; ++l) ctx.prefix += "\n";
    else
      ctx.prefix += elision + "\n";
  }
  ContextPiece window;
  window.kind = PieceKind::prefix;
  window.path = doc.path();
  window.start_line = win_line;
  window.end_line = cur_line;
  window.text = std::string(view(text, ctx.window_start_byte, cursor));
  window.tokens = count(window.text);
  window.reason = "the " + std::to_string(cur_line - win_line + 1) + " lines before the cursor" +
                  (win_line == 0 ? " (from the start of the file)" : ", cut at a line where a syntax node starts");
  ctx.prefix += window.text;
  ctx.pieces.push_back(std::move(window));
  ContextPiece suffix;
  suffix.kind = PieceKind::suffix;
  suffix.path = doc.path();
  suffix.start_line = cur_line;
  suffix.end_line = suffix_end_line;
  suffix.text = ctx.suffix;
  suffix.tokens = count(ctx.suffix);
  suffix.reason = suffix_end_line == cur_line ? "the rest of the cursor line"
                                              : "the rest of the enclosing block (to line " +
                                                    std::to_string(suffix_end_line + 1) + ")";
  ctx.pieces.push_back(std::move(suffix));
  ctx.tokens_used = 0;
  for (const ContextPiece& p : ctx.pieces) ctx.tokens_used += p.tokens;
  return ctx;
}

std::string describe_context(const CompletionContext& c) {
  std::string s;
  s += "file: " + c.path + "\nlanguage: " + (c.language.empty() ? std::string("plain text") : c.language) +
       "\ntokens: " + std::to_string(c.tokens_used) + " of " + std::to_string(c.budget_tokens) + "\n";
  if (c.tree_stale)
    s += "syntax tree: stale (the reparse of the last edit is still running; the edited lines are read as text)\n";
  if (c.parse_exhausted)
    s += "syntax tree: none (the parse of this version ran out of its time budget; cut at lines)\n";
  s += "\n";
  s += "== pieces (layout order) ==\n";
  for (const ContextPiece& p : c.pieces)
    s += "- " + std::string(piece_kind_name(p.kind)) + " " + p.path + ":" + std::to_string(p.start_line + 1) + "-" +
         std::to_string(p.end_line + 1) + " (" + std::to_string(p.tokens) + " tokens): " + p.reason + "\n";
  for (const CrossFileItem& item : c.cross_file) s += "\n== cross-file: " + item.path + " ==\n" + item.text;
  s += "\n== prefix ==\n" + c.prefix + "<CURSOR>\n== suffix ==\n" + c.suffix + "\n== end ==\n";
  return s;
}

}  // namespace rapide::context
