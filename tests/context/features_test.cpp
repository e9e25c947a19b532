// Context builder properties (budget, layout stability across keystrokes, plain text), post-
// processing details (CRLF, streaming), fix/explain contexts, and `rapide context` end to end.
#include "rapide/context/completion_context.h"
#include "rapide/context/fix_context.h"
#include "rapide/context/postprocess.h"

#include <gtest/gtest.h>
#include <test_support.h>

#include <filesystem>
#include <fstream>

namespace rapide::context {
namespace {

const std::string kHelpers =
    "def parse_header(line: str) -> tuple[str, str]:\n"
    "    name, _, value = line.partition(':')\n"
    "    return name.strip().lower(), value.strip()\n"
    "\n"
    "\n"
    "def read_headers(lines):\n"
    "    headers = {}\n"
    "    for line in lines:\n"
    "        if not line.strip():\n"
    "            break\n"
    "        name, value = parse_header(line)\n"
    "        headers[name] = value\n"
    "    return headers\n";

const std::string kMain =
    "from helpers import parse_header, read_headers\n"
    "\n"
    "\n"
    "class Request:\n"
    "    def __init__(self, raw: bytes):\n"
    "        text = raw.decode('latin-1')\n"
    "        head, _, self.body = text.partition('\\r\\n\\r\\n')\n"
    "        lines = head.split('\\r\\n')\n"
    "        self.method, self.path, self.version = lines[0].split(' ')\n"
    "        self.headers = read_headers(lines[1:])\n"
    "\n"
    "    def content_length(self) -> int:\n"
    "        return int(self.headers.get('content-length', 0))\n"
    "\n"
    "    def header(self, name):\n"
    "        ";

TEST(CompletionContext, RespectsTheBudgetAndKeepsTheCursorLine) {
  WorkspaceOptions wo;
  wo.background = false;
  Workspace ws(wo);
  ws.open("/p/helpers.py", "python", kHelpers, 1);
  ws.open("/p/request.py", "python", kMain, 1);
  const SnapshotPtr doc = ws.snapshot("/p/request.py");
  for (int budget : {1, 10, 40, 120, 400, 4000}) {
    ContextOptions o;
    o.budget_tokens = budget;
    const CompletionContext c = build_completion_context(ws, *doc, static_cast<uint32_t>(kMain.size()), o);
    if (budget >= 40) {
      EXPECT_LE(c.tokens_used, budget) << budget;
    }
    EXPECT_TRUE(c.prefix.ends_with("        ")) << budget;  // the cursor line, always
    if (budget >= 40) {
      EXPECT_TRUE(c.prefix.ends_with("    def header(self, name):\n        ")) << budget;
    }
    for (const ContextPiece& p : c.pieces) EXPECT_FALSE(p.reason.empty());
  }
  ContextOptions o;
  o.budget_tokens = 4000;
  const CompletionContext c = build_completion_context(ws, *doc, static_cast<uint32_t>(kMain.size()), o);
  ASSERT_EQ(c.cross_file.size(), 1u);
  EXPECT_EQ(c.cross_file[0].path, "/p/helpers.py");
  EXPECT_NE(c.cross_file[0].text.find("def read_headers(lines):"), std::string::npos);
  EXPECT_EQ(c.language, "python");
}

TEST(CompletionContext, CounterIsUsedAndLayoutIsStableAcrossKeystrokes) {
  WorkspaceOptions wo;
  wo.background = false;
  Workspace ws(wo);
  ws.open("/p/helpers.py", "python", kHelpers, 1);
  ws.open("/p/request.py", "python", kMain, 1);
  int calls = 0;
  ContextOptions o;
  o.budget_tokens = 600;
  o.count_tokens = [&calls](std::string_view s) {
    ++calls;
    return static_cast<int>(s.size() / 4 + 1);
  };
  const SnapshotPtr before = ws.snapshot("/p/request.py");
  const CompletionContext a = build_completion_context(ws, *before, static_cast<uint32_t>(kMain.size()), o);
  EXPECT_GT(calls, 0);
  // Type "return": everything before the cursor line stays byte-identical (KV-cache reuse).
  std::vector<TextChange> typed{{Range{{15, 8}, {15, 8}}, "return"}};
  ASSERT_TRUE(ws.change("/p/request.py", typed, PositionEncoding::utf16, 2).ok());
  const SnapshotPtr after = ws.snapshot("/p/request.py");
  const CompletionContext b = build_completion_context(ws, *after, static_cast<uint32_t>(kMain.size() + 6), o);
  ASSERT_EQ(a.cross_file.size(), b.cross_file.size());
  for (size_t i = 0; i < a.cross_file.size(); ++i) EXPECT_EQ(a.cross_file[i].text, b.cross_file[i].text);
  EXPECT_EQ(b.prefix, a.prefix + "return");
}

TEST(CompletionContext, PlainTextAndOutOfRangeCursor) {
  WorkspaceOptions wo;
  wo.background = false;
  Workspace ws(wo);
  ws.open("/p/notes.txt", "plaintext", "first line\nsecond line\nthird", 1);
  const SnapshotPtr doc = ws.snapshot("/p/notes.txt");
  EXPECT_EQ(doc->tree(), nullptr);
  const CompletionContext c = build_completion_context(ws, *doc, 9999);
  EXPECT_EQ(c.prefix, "first line\nsecond line\nthird");
  EXPECT_EQ(c.suffix, "");
  EXPECT_EQ(c.language, "");
}

TEST(PostProcess, CrlfDocumentsAndParseCheck) {
  const std::string text = "int f(int x) {\r\n  int y = x * 2;\r\n  \r\n}\r\n";
  const Snapshot doc("f.c", language_by_id("c"), text, 1);
  const uint32_t cursor = static_cast<uint32_t>(text.find("  \r\n}") + 2);
  const ProcessedCompletion p = postprocess_completion(doc, cursor, "return y + 1;\r\n}\r\n");
  EXPECT_EQ(p.text, "return y + 1;");
  EXPECT_EQ(p.stop_reason, "block end");
  EXPECT_TRUE(p.parse_checked);
  // A completion that cannot parse in any prefix is dropped.
  const ProcessedCompletion bad = postprocess_completion(doc, cursor, "))) ((( ;;");
  EXPECT_EQ(bad.text, "");
  // Invalid UTF-8 from a model is replaced, never a crash.
  const ProcessedCompletion odd = postprocess_completion(doc, cursor, "return \xff;");
  EXPECT_TRUE(is_valid_utf8(odd.text));
}

TEST(PostProcess, StreamingStopsAtTheFirstLineRule) {
  const std::string text = "def f(items):\n    for x in items:\n        \n    return None\n";
  const Snapshot doc("f.py", language_by_id("python"), text, 1);
  const uint32_t cursor = static_cast<uint32_t>(text.find("        \n") + 8);
  StreamingStopper s(doc, cursor);
  EXPECT_FALSE(s.feed("print(x)"));
  EXPECT_FALSE(s.feed("print(x)\n        x += 1\n"));
  EXPECT_TRUE(s.feed("print(x)\n        x += 1\n    return"));
  EXPECT_EQ(s.reason(), "dedent");
  EXPECT_EQ(s.keep_bytes(), std::string("print(x)\n        x += 1").size());
  // Max lines.
  PostprocessOptions o;
  o.max_lines = 2;
  StreamingStopper m(doc, cursor, o);
  EXPECT_TRUE(m.feed("a = 1\n        b = 2\n        c = 3\n"));
  EXPECT_EQ(m.reason(), "max lines");
}

TEST(FixContext, WidensToStatementAndFunction) {
  const std::string text =
      "#include <stdio.h>\n"
      "\n"
      "static int sum(const int *v, int n) {\n"
      "  int total = 0;\n"
      "  for (int i = 0; i < n; ++i)\n"
      "    total += v[i]\n"
      "  return total;\n"
      "}\n";
  const Snapshot doc("s.c", language_by_id("c"), text, 1);
  const uint32_t at = static_cast<uint32_t>(text.find("v[i]"));
  const FixContext f = fix_context(doc, at, at + 4);
  EXPECT_EQ(f.statement.start_line, 5u);  // the statement (missing its ';'), whole line
  EXPECT_NE(f.statement.text.find("total += v[i]"), std::string::npos);
  EXPECT_EQ(f.function.start_line, 2u);
  EXPECT_EQ(f.function.end_line, 7u);
  EXPECT_EQ(f.function.node_type, "function_definition");
  ASSERT_EQ(f.imports.size(), 1u);
  EXPECT_EQ(f.imports[0], "#include <stdio.h>");

  const uint32_t sel = static_cast<uint32_t>(text.find("int total"));
  const ExplainContext x = explain_context(doc, sel + 2, sel + 9);  // "t tota": partial tokens
  EXPECT_EQ(x.target.text, "int total = 0;");
  EXPECT_EQ(x.enclosing.node_type, "function_definition");
  const ExplainContext word = explain_context(doc, sel + 6, sel + 6);  // cursor inside "total"
  EXPECT_EQ(word.symbol, "total");
  EXPECT_EQ(word.target.text, "total");
}

TEST(Cli, ContextCommandPrintsPiecesAndReasons) {
  testing::TempDir dir;
  const auto helpers = dir.path() / "helpers.py";
  const auto main = dir.path() / "request.py";
  std::ofstream(helpers) << kHelpers;
  std::ofstream(main) << kMain;
  const auto r = testing::run_process({RAPIDE_BINARY, "context", main.string() + ":16:9", "--budget", "500", "--open",
                                       helpers.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("approximate token counts"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("== cross-file: " + helpers.string()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("def header(self, name):\n        <CURSOR>"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("definition of `read_headers`"), std::string::npos) << r.out;
  const auto bad = testing::run_process({RAPIDE_BINARY, "context", main.string() + ":99:1"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("has 16 lines, got line 99"), std::string::npos) << bad.err;
  const auto nocol = testing::run_process({RAPIDE_BINARY, "context", main.string()});
  EXPECT_EQ(nocol.exit_code, 2);
  EXPECT_NE(nocol.err.find("expected FILE:LINE:COL"), std::string::npos) << nocol.err;
}

TEST(Cli, ContextCommandCountsWithARealTokenizer) {
  RAPIDE_REQUIRE_SHARED(model, "models/stories260K.gguf");
  testing::TempDir dir;
  const auto main = dir.path() / "request.py";
  std::ofstream(main) << kMain;
  const auto r = testing::run_process(
      {RAPIDE_BINARY, "context", main.string() + ":16:9", "--budget", "300", "--model", model.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("tokens counted with the tokenizer of " + model.string()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" of 300\n"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace rapide::context
