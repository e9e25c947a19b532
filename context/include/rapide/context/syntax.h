// Our tree-sitter queries (grammars/queries/<lang>/*.scm, embedded in the binary) and what they
// extract from a tree: definitions, imports, references, scopes. Plus RAII handles.
//
// Compiled queries are cached per (grammar, kind) for the life of the program; compiling and
// looking them up is thread-safe. TSQuery objects are immutable once compiled; every call
// here uses its own TSQueryCursor, so concurrent calls on different or the same (read-only)
// trees are safe.
#pragma once

#include "rapide/context/languages.h"
#include "rapide/context/status.h"

#include <tree_sitter/api.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rapide::context {

struct TreeDeleter {
  void operator()(TSTree* t) const { ts_tree_delete(t); }
};
struct ParserDeleter {
  void operator()(TSParser* p) const { ts_parser_delete(p); }
};
struct QueryCursorDeleter {
  void operator()(TSQueryCursor* c) const { ts_query_cursor_delete(c); }
};
using TreePtr = std::unique_ptr<TSTree, TreeDeleter>;
using ParserPtr = std::unique_ptr<TSParser, ParserDeleter>;
using QueryCursorPtr = std::unique_ptr<TSQueryCursor, QueryCursorDeleter>;

enum class QueryKind { definitions, imports, references, scopes };
std::string_view query_kind_name(QueryKind kind);

// The compiled query of a kind for a language, or an error naming the file, the byte offset and
// tree-sitter's error type. A language without that query file gets an empty query (no
// patterns), never an error.
struct QueryResult {
  const TSQuery* query = nullptr;  // owned by the cache; valid for the program's life
  Status status;
};
QueryResult query_for(const Language& language, QueryKind kind);

// One definition found by the definitions query.
struct Definition {
  std::string name;       // "parse_args"
  std::string kind;       // function, method, class, type, namespace, macro, variable
  uint32_t start_byte = 0, end_byte = 0;  // the whole definition (with decorators/templates)
  uint32_t start_row = 0, end_row = 0;    // tree-sitter rows (0-based)
  std::string signature;  // the definition without its body ("def f(a, b):", "struct S { ... }"
                          // gets its field list when small); never empty
  std::string container;  // name of the enclosing class/namespace/impl when any
  uint32_t body_start_byte = 0;  // where the body starts (== end_byte when it has none)
  std::string text_if_small;     // the whole definition when it spans <= kSmallDefinitionRows
};
inline constexpr uint32_t kSmallDefinitionRows = 12;

// One import / include statement.
struct Import {
  std::string text;    // the statement as written
  std::string target;  // module or file it names, quotes stripped ("os.path", "util/log.h")
  uint32_t start_byte = 0, end_byte = 0;
  uint32_t row = 0;
};

// Runs a query over [start_byte, end_byte) of the tree (whole tree by default).
// `text` is the source the tree was parsed from.
std::vector<Definition> extract_definitions(const Language& language, const TSTree* tree, std::string_view text,
                                            uint32_t start_byte = 0, uint32_t end_byte = UINT32_MAX);
std::vector<Import> extract_imports(const Language& language, const TSTree* tree, std::string_view text,
                                    uint32_t start_byte = 0, uint32_t end_byte = UINT32_MAX);
// Identifier texts referenced in the range, in document order (duplicates kept), each with its
// start byte.
struct Reference {
  std::string_view name;  // view into text
  uint32_t start_byte = 0;
};
std::vector<Reference> extract_references(const Language& language, const TSTree* tree, std::string_view text,
                                          uint32_t start_byte, uint32_t end_byte);
// Smallest scope node (scopes query) containing [start_byte, end_byte]; a null node when none.
TSNode enclosing_scope(const Language& language, const TSTree* tree, uint32_t start_byte, uint32_t end_byte);

// S-expression of a tree (for tests and debugging).
std::string tree_sexp(const TSTree* tree);

}  // namespace rapide::context
