#include "rapide/context/document.h"
#include "rapide/context/languages.h"
#include "rapide/context/syntax.h"

#include <gtest/gtest.h>
#include <tree_sitter/api.h>

#include <memory>
#include <string>

namespace rapide::context {
namespace {

TEST(Languages, LookupByIdAndPath) {
  ASSERT_NE(language_by_id("python"), nullptr);
  EXPECT_EQ(language_by_id("no-such-language"), nullptr);
  EXPECT_EQ(language_for_path("/home/u/proj/app/MAIN.PY"), language_by_id("python"));
  EXPECT_EQ(language_for_path("stubs/typing.pyi"), language_by_id("python"));
  EXPECT_EQ(language_for_path("Makefile"), nullptr);
  EXPECT_EQ(language_for_path("archive.tar.gz"), nullptr);
  EXPECT_EQ(language_by_id("typescriptreact"), language_for_path("ui/App.tsx"));
  EXPECT_EQ(language_by_id("tsx"), language_by_id("typescriptreact"));
  EXPECT_EQ(language_for_path("src/lib.rs"), language_by_id("rust"));
  EXPECT_EQ(language_for_path("a/b/Main.java"), language_by_id("java"));
  EXPECT_EQ(language_for_path("x.hpp"), language_by_id("cpp"));
  EXPECT_EQ(language_for_path("x.c"), language_by_id("c"));
  EXPECT_EQ(language_for_path("init.lua"), language_by_id("lua"));
  EXPECT_EQ(language_for_path("setup.sh"), language_by_id("shellscript"));
  EXPECT_EQ(language_for_path("package.json"), language_by_id("json"));
  EXPECT_EQ(language_for_path("main.go"), language_by_id("go"));
  EXPECT_EQ(language_for_path("index.mjs"), language_by_id("javascript"));
  EXPECT_EQ(language_by_id("javascriptreact"), language_by_id("javascript"));
}

TEST(Languages, AllTwelveGrammarsArePresent) {
  for (const char* id : {"c", "cpp", "python", "javascript", "typescript", "typescriptreact", "rust", "go", "java",
                         "lua", "shellscript", "json"})
    EXPECT_NE(language_by_id(id), nullptr) << id;
}

// Every embedded query compiles against its grammar (TSX compiles the typescript queries).
TEST(Queries, EveryQueryCompilesAgainstItsGrammar) {
  for (const Language& l : languages())
    for (QueryKind k : {QueryKind::definitions, QueryKind::imports, QueryKind::references, QueryKind::scopes}) {
      const QueryResult q = query_for(l, k);
      EXPECT_TRUE(q.status.ok()) << q.status.message();
      ASSERT_NE(q.query, nullptr) << l.id << " " << query_kind_name(k);
      if (l.id != "json" || k != QueryKind::imports) {
        EXPECT_GT(ts_query_pattern_count(q.query), 0u) << l.id << " " << query_kind_name(k);
      }
    }
}

TEST(Languages, EveryGrammarLoadsWithACompatibleAbi) {
  for (const Language& l : languages()) {
    const TSLanguage* ts = l.grammar();
    ASSERT_NE(ts, nullptr) << l.id;
    const uint32_t abi = ts_language_abi_version(ts);
    EXPECT_GE(abi, TREE_SITTER_MIN_COMPATIBLE_LANGUAGE_VERSION) << l.id;
    EXPECT_LE(abi, TREE_SITTER_LANGUAGE_VERSION) << l.id;
  }
}

TEST(Languages, PythonParsesRealCode) {
  std::unique_ptr<TSParser, decltype(&ts_parser_delete)> parser(ts_parser_new(), &ts_parser_delete);
  ASSERT_TRUE(ts_parser_set_language(parser.get(), language_by_id("python")->grammar()));
  const std::string src =
      "import os\n\n"
      "def walk(root: str) -> list[str]:\n"
      "    out = []\n"
      "    for d, _, files in os.walk(root):\n"
      "        out.extend(os.path.join(d, f) for f in files)\n"
      "    return out\n";
  const TreePtr tree = parse_text(parser.get(), language_by_id("python"), src, nullptr);
  ASSERT_NE(tree, nullptr);
  const TSNode root = ts_tree_root_node(tree.get());
  EXPECT_STREQ(ts_node_type(root), "module");
  EXPECT_FALSE(ts_node_has_error(root));
  EXPECT_EQ(ts_node_named_child_count(root), 2u);
  EXPECT_STREQ(ts_node_type(ts_node_named_child(root, 1)), "function_definition");
}

}  // namespace
}  // namespace rapide::context
