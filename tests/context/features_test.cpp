// Context builder properties (budget, layout stability across keystrokes, plain text), post-
// processing details (CRLF, streaming), fix/explain contexts, and `rapide context` end to end.
#include "rapide/context/completion_context.h"
#include "rapide/context/fix_context.h"
#include "rapide/context/postprocess.h"

#include <gtest/gtest.h>
#include <test_support.h>

#include <chrono>
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
  ws.wait_parsed();  // on a loaded machine even this reparse may pass the cap: compare fresh trees
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

// Every cursor offset of documents with LF, CRLF, lone CR and mixed line endings: the window,
// cursor and suffix stay in order, the suffix is the verbatim text after the cursor, and a cursor
// between "\r" and "\n" is taken before the "\r" (the end of its line, as LSP clamps positions
// inside a line terminator), giving the same context as that offset.
TEST(CompletionContext, CursorInsideLineTerminators) {
  WorkspaceOptions wo;
  wo.background = false;
  Workspace ws(wo);
  const std::string body = "def area(w, h):\n    if w < 0:\n        return 0\n\n    return w * h\n";
  const auto with_endings = [&](std::string_view eol) {
    std::string out;
    for (char ch : body) out += ch == '\n' ? std::string(eol) : std::string(1, ch);
    return out;
  };
  const std::vector<std::pair<std::string, std::string>> docs = {
      {"lf", with_endings("\n")}, {"crlf", with_endings("\r\n")}, {"cr", with_endings("\r")},
      {"mixed", "def area(w, h):\r\n    if w < 0:\r        return 0\n\r\n    return w * h"}};
  for (const auto& [name, text] : docs) {
    for (const char* lang : {"python", "plaintext"}) {
      const std::string path = "/t/" + name + (std::string(lang) == "python" ? ".py" : ".txt");
      ws.open(path, lang, text, 1);
      const SnapshotPtr snap = ws.snapshot(path);
      for (uint32_t cursor = 0; cursor <= text.size(); ++cursor) {
        for (int budget : {24, 1536}) {
          SCOPED_TRACE(name + " " + lang + " cursor " + std::to_string(cursor) + " budget " + std::to_string(budget));
          ContextOptions o;
          o.budget_tokens = budget;
          const CompletionContext c = build_completion_context(ws, *snap, cursor, o);
          const bool inside_crlf = cursor > 0 && cursor < text.size() && text[cursor - 1] == '\r' && text[cursor] == '\n';
          ASSERT_EQ(c.cursor_byte, inside_crlf ? cursor - 1 : cursor);
          ASSERT_LE(c.window_start_byte, c.cursor_byte);
          ASSERT_LE(c.cursor_byte, c.suffix_end_byte);
          ASSERT_LE(c.suffix_end_byte, text.size());
          EXPECT_EQ(c.suffix, text.substr(c.cursor_byte, c.suffix_end_byte - c.cursor_byte));
          const std::string window = text.substr(c.window_start_byte, c.cursor_byte - c.window_start_byte);
          ASSERT_GE(c.prefix.size(), window.size());
          EXPECT_EQ(c.prefix.substr(c.prefix.size() - window.size()), window);
          if (inside_crlf) {
            const CompletionContext before = build_completion_context(ws, *snap, cursor - 1, o);
            EXPECT_EQ(c.prefix, before.prefix);
            EXPECT_EQ(c.suffix, before.suffix);
          }
          // post-processing agrees on where the cursor is: a completion ending the line is kept
          if (inside_crlf && budget == 1536) {
            EXPECT_EQ(postprocess_completion(*snap, cursor, "x").text,
                      postprocess_completion(*snap, cursor - 1, "x").text);
          }
        }
      }
    }
  }
}

// Generated Python in the shape of real code, large enough that error recovery takes long.
std::string big_python(int n_classes) {
  std::string s = "import os\nfrom checksum import compute_checksum\n\n\n";
  for (int c = 0; c < n_classes; ++c) {
    const std::string n = std::to_string(c);
    s += "class Store" + n + ":\n    def __init__(self, root):\n        self.root = root\n        self.items = []\n\n";
    for (int m = 0; m < 5; ++m)
      s += "    def load_" + std::to_string(m) + "(self, name, limit=10):\n        total = 0\n"
           "        for i, item in enumerate(self.items):\n            if item.name == name and i < limit:\n"
           "                total += len(item.data)\n        with open(os.path.join(self.root, name)) as f:\n"
           "            f.write(str(total))\n        return total\n\n";
  }
  return s;
}

// A completion on a snapshot whose reparse was cut short by the cap never waits for the parse:
// it is built from the stale tree, and the identifiers typed since the last complete parse are
// read from the text, so their definitions in other files are still found.
TEST(CompletionContext, StaleTreeReadsTheEditedBytesAsText) {
  WorkspaceOptions wo;
  wo.background = false;
  Workspace ws(wo);
  ws.open("/s/checksum.py", "python",
          "def compute_checksum(data: bytes, seed: int = 0) -> int:\n    value = seed\n    for b in data:\n"
          "        value = (value * 31 + b) & 0xFFFFFFFF\n    return value\n",
          1);
  const std::string text = big_python(30);
  Document doc("/s/store.py", language_by_id("python"), text, 1);
  doc.set_parse_time_cap(std::chrono::microseconds(1));
  // Typed at the end of "total = 0" of a method in the middle: "; digest = compute_checksum(".
  const uint32_t at = static_cast<uint32_t>(text.find("total = 0\n", text.size() / 2) + 9);
  const std::string typed = "; digest = compute_checksum(";
  ASSERT_TRUE(doc.apply_bytes(at, at, typed, 2).ok());
  ASSERT_TRUE(doc.current().tree_stale()) << "the cap should cut this reparse short";
  const uint32_t cursor = at + static_cast<uint32_t>(typed.size());
  const CompletionContext c = build_completion_context(ws, doc.current(), cursor);
  EXPECT_TRUE(c.tree_stale);
  EXPECT_NE(describe_context(c).find("syntax tree: stale"), std::string::npos);
  EXPECT_TRUE(c.prefix.ends_with("total = 0" + typed));
  bool found = false;
  for (const ContextPiece& p : c.pieces)
    found = found || (p.kind == PieceKind::definition && p.text.find("def compute_checksum") != std::string::npos);
  EXPECT_TRUE(found) << describe_context(c);
  // The enclosing method's header is still found from the stale tree.
  EXPECT_NE(c.prefix.find("def load_"), std::string::npos);
  // Post-processing gives no parse verdict on a stale tree (its error count is not the text's).
  EXPECT_FALSE(postprocess_completion(doc.current(), cursor, "b\"data\")").parse_checked);
  // Once the parse is finished the same context is built from the fresh tree.
  doc.finish_parse();
  const CompletionContext fresh = build_completion_context(ws, doc.current(), cursor);
  EXPECT_FALSE(fresh.tree_stale);
  EXPECT_TRUE(fresh.prefix.ends_with("total = 0" + typed));
}

// The parse check is bounded by a work budget: when it runs out there is no verdict (the
// completion is kept as the line rules left it), deterministically.
TEST(PostProcess, ParseCheckIsBoundedByItsBudget) {
  const std::string text = big_python(30);
  const Snapshot doc("/s/store.py", language_by_id("python"), text, 1);
  const uint32_t cursor = static_cast<uint32_t>(text.find("total = 0\n", text.size() / 2) + 9);
  PostprocessOptions generous;
  generous.parse_check_budget = 1u << 30;
  const ProcessedCompletion checked = postprocess_completion(doc, cursor, " + * 2", generous);
  EXPECT_TRUE(checked.parse_checked);
  EXPECT_EQ(checked.stop_reason, "parse errors");
  PostprocessOptions tiny;
  tiny.parse_check_budget = 1;
  const ProcessedCompletion unchecked = postprocess_completion(doc, cursor, " + * 2", tiny);
  EXPECT_FALSE(unchecked.parse_checked);
  EXPECT_EQ(unchecked.text, " + * 2");
  // the default budget gives a verdict on this 1,000-line file
  EXPECT_TRUE(postprocess_completion(doc, cursor, " + * 2").parse_checked);
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

// A C file with `sum` between many small functions (large enough that a 1 us cap always cuts the
// reparse of an edit).
std::string c_with_sum(int n_around) {
  std::string s = "#include <stdio.h>\n\n";
  const auto helpers = [&](int from) {
    for (int i = from; i < from + n_around; ++i)
      s += "static int twice_" + std::to_string(i) + "(int x) {\n  int y = x * 2;\n  return y + " + std::to_string(i) +
           ";\n}\n\n";
  };
  helpers(0);
  s += "static int sum(const int *v, int n) {\n  int total = 0;\n  for (int i = 0; i < n; ++i)\n    total += v[i];\n"
       "  return total;\n}\n\n";
  helpers(n_around);
  return s;
}

// Issue 6: a fix context asked for right after an edit, while the reparse is not caught up (the
// cap cut it and nobody finished it), never reads the stale tree's node ranges against the new
// text: it reparses the text privately, or falls back to lines when that runs out of budget.
TEST(FixContext, StaleTreeIsReparsedNotReadAtOldRanges) {
  const std::string text = c_with_sum(40);
  Document doc("s.c", language_by_id("c"), text, 1, std::chrono::microseconds(1));
  // One didChange with two edits: an include at the top and a new line in sum's body.
  const uint32_t body = static_cast<uint32_t>(text.find("  int total = 0;\n") + 17);
  const Position at_body = doc.current().lines().position(body, PositionEncoding::utf16);
  const std::vector<TextChange> changes{{Range{at_body, at_body}, "  int scale = 2;\n"},
                                        {Range{{0, 0}, {0, 0}}, "#include <stdlib.h>\n"}};
  ASSERT_TRUE(doc.apply(changes, PositionEncoding::utf16, 2).ok());
  ASSERT_TRUE(doc.parse_pending()) << "the 1 us cap should leave the reparse pending";
  const SnapshotPtr stale = doc.snapshot();
  ASSERT_TRUE(stale->tree_stale());
  const std::string& now = stale->text();
  const uint32_t scale = static_cast<uint32_t>(now.find("scale"));
  // Precondition: the stale tree has no node for the typed line (its smallest node there is sum's
  // body), so reading it would widen the diagnostic to the whole function.
  const TSNode old_node = ts_node_descendant_for_byte_range(stale->root(), scale, scale + 5);
  EXPECT_STRNE(ts_node_type(old_node), "identifier");

  const Snapshot fresh("s.c", language_by_id("c"), now, 2);
  const FixContext want = fix_context(fresh, scale, scale + 5);
  ASSERT_EQ(want.syntax, SyntaxSource::tree);
  EXPECT_EQ(want.statement.text, "  int scale = 2;");
  EXPECT_EQ(want.statement.node_type, "declaration");
  EXPECT_EQ(want.function.node_type, "function_definition");
  EXPECT_TRUE(want.function.text.starts_with("static int sum("));

  const FixContext got = fix_context(*stale, scale, scale + 5);
  EXPECT_EQ(got.syntax, SyntaxSource::reparsed);
  EXPECT_EQ(got.statement.text, want.statement.text);
  EXPECT_EQ(got.statement.start_byte, want.statement.start_byte);
  EXPECT_EQ(got.statement.node_type, want.statement.node_type);
  EXPECT_EQ(got.function.start_line, want.function.start_line);
  EXPECT_EQ(got.function.end_line, want.function.end_line);
  EXPECT_EQ(got.function.text, want.function.text);
  EXPECT_EQ(got.imports, (std::vector<std::string>{"#include <stdlib.h>", "#include <stdio.h>"}));
  EXPECT_EQ(got.imports, want.imports);

  const ExplainContext explain = explain_context(*stale, scale + 2, scale + 2);
  EXPECT_EQ(explain.syntax, SyntaxSource::reparsed);
  EXPECT_EQ(explain.symbol, "scale");
  EXPECT_EQ(explain.enclosing.text, want.function.text);
  EXPECT_TRUE(doc.parse_pending()) << "the document's own parse is left to its owner";

  // The private reparse out of budget: line-based ranges, never the stale tree's.
  const ParseBudget none{std::chrono::milliseconds(0), std::chrono::microseconds(0)};
  const FixContext lines = fix_context(*stale, scale, scale + 5, none);
  EXPECT_EQ(lines.syntax, SyntaxSource::lines);
  EXPECT_EQ(lines.statement.text, "  int scale = 2;");
  EXPECT_EQ(lines.statement.node_type, "");
  const uint32_t line = stale->lines().line_of(scale);
  EXPECT_EQ(lines.function.start_line, line - 10);
  EXPECT_EQ(lines.function.end_line, line + 10);
  const ExplainContext explain_lines = explain_context(*stale, scale + 2, scale + 2, none);
  EXPECT_EQ(explain_lines.syntax, SyntaxSource::lines);
  EXPECT_EQ(explain_lines.symbol, "scale");

  // Once the document's parse is finished, its own tree is read.
  doc.finish_parse();
  ASSERT_FALSE(doc.parse_pending());
  const FixContext after = fix_context(doc.current(), scale, scale + 5);
  EXPECT_EQ(after.syntax, SyntaxSource::tree);
  EXPECT_EQ(after.statement.text, want.statement.text);
  EXPECT_EQ(after.function.text, want.function.text);
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
