#include "rapide/context/fix_context.h"

#include <algorithm>
#include <cctype>

namespace rapide::context {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) { return s.ends_with(suffix); }

bool is_statement_type(std::string_view t) {
  return ends_with(t, "statement") || ends_with(t, "declaration") || ends_with(t, "definition") ||
         ends_with(t, "_item") || t == "expression_statement" || t == "decorated_definition" ||
         t == "field_declaration" || t == "preproc_include" || t == "preproc_def" || t == "short_var_declaration" ||
         t == "assignment" || t == "local_variable_declaration" || t == "let_declaration" || t == "pair" ||
         t == "command" || t == "variable_declaration" || t == "function_call" || ends_with(t, "_spec");
}

bool is_function_type(std::string_view t) {
  return t.find("function") != std::string_view::npos || t.find("method") != std::string_view::npos ||
         t.find("class") != std::string_view::npos || t == "constructor_declaration" || t == "impl_item" ||
         t == "struct_item" || t == "trait_item" || t == "decorated_definition" || t == "arrow_function" ||
         t == "lambda_expression" || t == "interface_declaration" || t == "enum_declaration" ||
         t == "struct_specifier" || t == "namespace_definition" || t == "type_declaration";
}

CodeRegion whole_lines(const Snapshot& doc, uint32_t s, uint32_t e, std::string_view type) {
  const LineIndex& lines = doc.lines();
  CodeRegion r;
  r.start_line = lines.line_of(s);
  r.end_line = lines.line_of(e > s ? e - 1 : e);
  r.start_byte = lines.line_start(r.start_line);
  r.end_byte = lines.line_end(r.end_line);
  r.text = doc.text().substr(r.start_byte, r.end_byte - r.start_byte);
  r.node_type = std::string(type);
  return r;
}

CodeRegion exact(const Snapshot& doc, TSNode n) {
  const LineIndex& lines = doc.lines();
  CodeRegion r;
  r.start_byte = ts_node_start_byte(n);
  r.end_byte = ts_node_end_byte(n);
  r.start_line = lines.line_of(r.start_byte);
  r.end_line = lines.line_of(r.end_byte > r.start_byte ? r.end_byte - 1 : r.end_byte);
  r.text = doc.text().substr(r.start_byte, r.end_byte - r.start_byte);
  r.node_type = ts_node_type(n);
  return r;
}

uint32_t clamp(const Snapshot& doc, uint32_t b) { return std::min<uint32_t>(b, static_cast<uint32_t>(doc.text().size())); }

// Outermost function-like ancestor below the root, or the innermost when nested ones exist?
// The innermost function is the natural unit (a method, not its whole class).
TSNode enclosing_function(TSNode n) {
  for (; !ts_node_is_null(n); n = ts_node_parent(n)) {
    const std::string_view t = ts_node_type(n);
    if (is_function_type(t) && !ts_node_is_null(ts_node_parent(n))) {
      const TSNode p = ts_node_parent(n);
      // decorators / templates / exports wrap the definition
      const std::string_view pt = ts_node_type(p);
      if (pt == "decorated_definition" || pt == "template_declaration" || pt == "export_statement") return p;
      return n;
    }
  }
  return n;
}

// The tree that describes doc's text: its own, or a private parse of the text when its own is
// stale (never the stale tree's node ranges), or none.
struct CurrentTree {
  TreePtr owned;
  const TSTree* tree = nullptr;
  SyntaxSource source = SyntaxSource::lines;
  TSNode root() const { return ts_tree_root_node(tree); }
};

CurrentTree current_tree(const Snapshot& doc, ParseBudget budget) {
  CurrentTree t;
  if (!doc.tree_stale()) {
    t.tree = doc.tree();
    if (t.tree) t.source = SyntaxSource::tree;
    return t;
  }
  ParserPtr parser(ts_parser_new());
  t.owned = Document::parse_to_end(parser.get(), doc, nullptr, budget);
  t.tree = t.owned.get();
  if (t.tree) t.source = SyntaxSource::reparsed;
  return t;
}

}  // namespace

FixContext fix_context(const Snapshot& doc, uint32_t start_byte, uint32_t end_byte, ParseBudget budget) {
  FixContext f;
  f.language = doc.language() ? std::string(doc.language()->id) : std::string();
  start_byte = clamp(doc, start_byte);
  end_byte = std::max(start_byte, clamp(doc, end_byte));
  const LineIndex& lines = doc.lines();
  const CurrentTree tree = current_tree(doc, budget);
  f.syntax = tree.source;
  if (!tree.tree) {
    f.statement = whole_lines(doc, start_byte, end_byte, "");
    const uint32_t l0 = f.statement.start_line > 10 ? f.statement.start_line - 10 : 0;
    const uint32_t l1 = std::min(lines.line_count() - 1, f.statement.end_line + 10);
    f.function = whole_lines(doc, lines.line_start(l0), lines.line_end(l1) + 1, "");
    f.function.end_line = l1;
    return f;
  }
  TSNode n = ts_node_descendant_for_byte_range(tree.root(), start_byte, end_byte);
  TSNode stmt = n;
  while (!ts_node_is_null(stmt) && !is_statement_type(ts_node_type(stmt)) && !ts_node_is_null(ts_node_parent(stmt)))
    stmt = ts_node_parent(stmt);
  if (ts_node_is_null(stmt) || ts_node_is_null(ts_node_parent(stmt))) stmt = n;  // reached the root
  f.statement = whole_lines(doc, ts_node_start_byte(stmt), std::max(ts_node_end_byte(stmt), end_byte), ts_node_type(stmt));
  const TSNode fn = enclosing_function(stmt);
  if (ts_node_is_null(fn) || ts_node_is_null(ts_node_parent(fn)))
    f.function = f.statement;
  else
    f.function = whole_lines(doc, ts_node_start_byte(fn), ts_node_end_byte(fn), ts_node_type(fn));
  // The snapshot's cached symbols when its tree is current; the imports of the private tree
  // otherwise (the stale tree's imports would be cut from the new text at old ranges).
  const std::vector<Import> reparsed_imports = tree.source == SyntaxSource::reparsed
                                                   ? extract_imports(*doc.language(), tree.tree, doc.text())
                                                   : std::vector<Import>{};
  for (const Import& im : tree.source == SyntaxSource::tree ? doc.symbols().imports : reparsed_imports)
    f.imports.push_back(im.text);
  return f;
}

ExplainContext explain_context(const Snapshot& doc, uint32_t start_byte, uint32_t end_byte, ParseBudget budget) {
  ExplainContext x;
  x.language = doc.language() ? std::string(doc.language()->id) : std::string();
  start_byte = clamp(doc, start_byte);
  end_byte = std::max(start_byte, clamp(doc, end_byte));
  const std::string& text = doc.text();
  const CurrentTree tree = current_tree(doc, budget);
  x.syntax = tree.source;
  if (!tree.tree) {
    // Without a tree: the word under the cursor, or the selected lines.
    if (start_byte == end_byte) {
      uint32_t s = start_byte, e = start_byte;
      const auto word = [&](uint32_t i) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        return std::isalnum(c) || c == '_' || c >= 0x80;
      };
      while (s > 0 && word(s - 1)) --s;
      while (e < text.size() && word(e)) ++e;
      x.symbol = text.substr(s, e - s);
      x.target = whole_lines(doc, s, e, "");
    } else {
      x.target = whole_lines(doc, start_byte, end_byte, "");
    }
    x.enclosing = x.target;
    return x;
  }
  // Trim the selection's surrounding whitespace, then find the smallest named node covering it.
  while (start_byte < end_byte && std::isspace(static_cast<unsigned char>(text[start_byte]))) ++start_byte;
  while (end_byte > start_byte && std::isspace(static_cast<unsigned char>(text[end_byte - 1]))) --end_byte;
  TSNode n = ts_node_named_descendant_for_byte_range(tree.root(), start_byte, end_byte);
  if (start_byte == end_byte && !ts_node_is_null(n) && ts_node_start_byte(n) == start_byte && start_byte > 0) {
    // cursor right after an identifier ("foo|"): prefer the identifier
    const TSNode prev = ts_node_named_descendant_for_byte_range(tree.root(), start_byte - 1, start_byte - 1);
    if (ts_node_child_count(prev) == 0) n = prev;
  }
  if (start_byte == end_byte && ts_node_child_count(n) == 0) {
    x.symbol = std::string(text.substr(ts_node_start_byte(n), ts_node_end_byte(n) - ts_node_start_byte(n)));
  }
  // Expand ERROR nodes and partial lines: a selection covering part of a statement takes the
  // statement; a leaf under the cursor stays the leaf.
  if (start_byte != end_byte) {
    while (!ts_node_is_null(ts_node_parent(n)) && (ts_node_is_error(n) || ts_node_start_byte(n) > start_byte ||
                                                    ts_node_end_byte(n) < end_byte))
      n = ts_node_parent(n);
  }
  x.target = exact(doc, n);
  const TSNode fn = enclosing_function(n);
  x.enclosing = (ts_node_is_null(fn) || ts_node_is_null(ts_node_parent(fn))) ? x.target
                                                                             : whole_lines(doc, ts_node_start_byte(fn), ts_node_end_byte(fn), ts_node_type(fn));
  return x;
}

}  // namespace rapide::context
