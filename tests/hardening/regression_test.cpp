// Regression tests for the bugs found by fuzzing and the sanitizer lane (issue 11). Each test
// names the fuzz target that found the bug; the reproducer is also in that target's corpus
// (fuzz/corpus/<target>/regression-*), so the fuzzers replay it on every run.
#include "rapide/context/completion_context.h"
#include "rapide/context/fix_context.h"
#include "rapide/context/workspace.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rapide::context {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// completion_context_fuzz: a cursor between the "\r" and "\n" of a CRLF gave suffix_end_byte <
// cursor_byte (the suffix ended at the line's terminator, which starts before the cursor), so the
// suffix was taken from a reversed range. The cursor now moves before the "\r".
TEST(HardeningRegression, CursorInsideCrlfIsMovedBeforeTheCarriageReturn) {
  WorkspaceOptions wo;
  wo.background = false;
  Workspace ws(wo);
  const std::string text = "int a = 1;\r\nint b = 2;\r\nint c = a + b;\r\n";
  ws.open("/regression/main.cpp", "cpp", text, 1);
  SnapshotPtr snap = ws.snapshot("/regression/main.cpp");
  ASSERT_TRUE(snap);
  for (uint32_t cursor = 0; cursor <= text.size(); ++cursor) {
    for (int budget : {64, 1536}) {
      ContextOptions options;
      options.budget_tokens = budget;
      const CompletionContext c = build_completion_context(ws, *snap, cursor, options);
      SCOPED_TRACE("cursor " + std::to_string(cursor) + ", budget " + std::to_string(budget));
      ASSERT_LE(c.window_start_byte, c.cursor_byte);
      ASSERT_LE(c.cursor_byte, c.suffix_end_byte);
      ASSERT_LE(c.suffix_end_byte, text.size());
      EXPECT_EQ(c.suffix, text.substr(c.cursor_byte, c.suffix_end_byte - c.cursor_byte));
      const bool inside_crlf = cursor > 0 && cursor < text.size() && text[cursor] == '\n' && text[cursor - 1] == '\r';
      EXPECT_EQ(c.cursor_byte, inside_crlf ? cursor - 1 : cursor);
    }
  }
}

// completion_context_fuzz: tree-sitter-typescript's TSX parser never finishes on these 16 bytes
// (upstream issue #323, open; the fuzzer found the same loop as "<x {{x:>x:x(x x)", which is
// fuzz/corpus/*/regression-tsx-parser-loop). The first parse of the document (Workspace::open,
// on the language server's I/O thread) and the background parse spun forever. Every parse now
// has a budget (document.h): the version gets no tree, completions use line cuts, the failure is
// logged once, the background thread does not retry the version, and a later edit parses again.
constexpr std::string_view kTsxLoop = "<a {{b:>c:d(e f)";

// The lines a workspace logged, safe to read while it runs.
struct LogLines {
  std::mutex mutex;
  std::vector<std::string> lines;
  size_t count() {
    std::lock_guard<std::mutex> lock(mutex);
    return lines.size();
  }
  // The background thread logs just after publishing the snapshot: wait for the line.
  size_t count_after(size_t want, std::chrono::seconds limit) {
    const auto end = Clock::now() + limit;
    while (count() < want && Clock::now() < end) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return count();
  }
};

WorkspaceOptions logged_options(const std::shared_ptr<LogLines>& log, std::chrono::milliseconds budget_base) {
  WorkspaceOptions wo;
  wo.background = false;
  wo.parse_budget.base = budget_base;
  wo.log = [log](const std::string& line) {
    std::lock_guard<std::mutex> lock(log->mutex);
    log->lines.push_back(line);
  };
  return wo;
}

// Polls until the document's snapshot is no longer waiting for a background parse; false when
// that takes longer than `limit` (the background thread retrying the version forever).
bool settles_within(const Workspace& ws, const std::string& path, std::chrono::seconds limit) {
  const auto end = Clock::now() + limit;
  while (ws.snapshot(path)->tree_stale()) {
    if (Clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// A context at every line start and at the end, built from the text alone.
void expect_line_based_contexts(const Workspace& ws, const Snapshot& snap) {
  const std::string& text = snap.text();
  std::vector<uint32_t> cursors{static_cast<uint32_t>(text.size()), static_cast<uint32_t>(text.size() / 2), 0};
  for (const uint32_t cursor : cursors) {
    const CompletionContext c = build_completion_context(ws, snap, cursor);
    SCOPED_TRACE("cursor " + std::to_string(cursor));
    EXPECT_TRUE(c.parse_exhausted);
    EXPECT_EQ(c.cursor_byte, cursor);
    EXPECT_TRUE(c.prefix.ends_with(text.substr(c.window_start_byte, cursor - c.window_start_byte)));
    EXPECT_EQ(c.suffix, text.substr(cursor, c.suffix_end_byte - cursor));
    EXPECT_EQ(c.window_start_byte, snap.lines().line_start(snap.lines().line_of(c.window_start_byte)))
        << "without a tree the window starts at a line start";
    EXPECT_NE(describe_context(c).find("syntax tree: none (the parse of this version ran out of its time budget"),
              std::string::npos);
  }
}

TEST(TsxParserLoop, OpenReturnsWithinTheDefaultBudgetAndCompletionsUseLines) {
  auto log = std::make_shared<LogLines>();
  WorkspaceOptions wo = logged_options(log, ParseBudget{}.base);  // the defaults: 1 s + 2 s/MiB
  Workspace ws(wo);
  const std::string path = "/regression/poc.tsx";
  const auto t0 = Clock::now();
  ws.open(path, "typescriptreact", std::string(kTsxLoop), 1);
  const double open_s = seconds_since(t0);
  EXPECT_GE(open_s, 0.9) << "the parse should run for its whole budget (1 s) before giving up";
  EXPECT_LT(open_s, 4.0);
  SnapshotPtr snap = ws.snapshot(path);
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->tree(), nullptr);
  EXPECT_TRUE(snap->parse_exhausted());
  EXPECT_FALSE(snap->tree_stale()) << "nothing is left for the background thread to retry";
  expect_line_based_contexts(ws, *snap);
  const CompletionContext end = build_completion_context(ws, *snap, static_cast<uint32_t>(kTsxLoop.size()));
  EXPECT_EQ(end.prefix, kTsxLoop);
  EXPECT_EQ(end.suffix, "");
  ASSERT_EQ(log->count(), 1u);
  EXPECT_NE(log->lines[0].find(path), std::string::npos) << log->lines[0];
  EXPECT_NE(log->lines[0].find("within its budget of 1000 ms"), std::string::npos) << log->lines[0];
  EXPECT_EQ(ws.parses_out_of_budget(), 1u);
  // Fix and explain contexts fall back to lines too.
  const FixContext f = fix_context(*snap, 3, 5);
  EXPECT_EQ(f.syntax, SyntaxSource::lines);
  EXPECT_EQ(f.statement.text, kTsxLoop);
  EXPECT_EQ(explain_context(*snap, 1, 1).symbol, "a");
}

TEST(TsxParserLoop, RepeatedAHundredTimes) {
  auto log = std::make_shared<LogLines>();
  Workspace ws(logged_options(log, std::chrono::milliseconds(200)));
  std::string text;
  for (int i = 0; i < 100; ++i) text += std::string(kTsxLoop) + (i % 10 == 9 ? "\n" : " ");
  text.pop_back();  // ends with the loop's text, as the hanging variants do
  const std::string path = "/regression/poc100.tsx";
  const auto t0 = Clock::now();
  ws.open(path, "tsx", text, 1);
  EXPECT_LT(seconds_since(t0), 3.0);
  SnapshotPtr snap = ws.snapshot(path);
  ASSERT_TRUE(snap->parse_exhausted());
  expect_line_based_contexts(ws, *snap);
  EXPECT_EQ(log->count(), 1u);
}

// Typed one character at a time through the workspace (4 ms cap per edit, the rest in the
// background): every edit returns at once, a context is built after each, the background
// thread gives the last version up within its budget and does not retry it; deleting the last
// character parses again (and re-arms the log), typing it again gives up again.
TEST(TsxParserLoop, TypedOneCharacterAtATime) {
  auto log = std::make_shared<LogLines>();
  Workspace ws(logged_options(log, std::chrono::milliseconds(200)));
  const std::string path = "/regression/typed.tsx";
  ws.open(path, "typescriptreact", "", 1);
  int64_t version = 1;
  double slowest_edit_s = 0;
  for (uint32_t i = 0; i < kTsxLoop.size(); ++i) {
    const TextChange c{Range{{0, i}, {0, i}}, std::string(1, kTsxLoop[i])};
    const auto t0 = Clock::now();
    ASSERT_TRUE(ws.change(path, {&c, 1}, PositionEncoding::utf16, ++version).ok());
    slowest_edit_s = std::max(slowest_edit_s, seconds_since(t0));
    SnapshotPtr snap = ws.snapshot(path);
    ASSERT_EQ(snap->text(), kTsxLoop.substr(0, i + 1));
    const CompletionContext ctx = build_completion_context(ws, *snap, i + 1);
    EXPECT_EQ(ctx.prefix, kTsxLoop.substr(0, i + 1));
  }
  EXPECT_LT(slowest_edit_s, 0.5) << "an edit waits for the 4 ms cap, never for the whole parse";
  ASSERT_TRUE(settles_within(ws, path, std::chrono::seconds(5)));
  SnapshotPtr last = ws.snapshot(path);
  EXPECT_EQ(last->version(), version);
  EXPECT_TRUE(last->parse_exhausted());
  expect_line_based_contexts(ws, *last);
  ws.wait_parsed();
  EXPECT_EQ(log->count_after(1, std::chrono::seconds(5)), 1u);
  // The background thread does not retry the version: nothing more runs out of budget.
  const size_t exhausted = ws.parses_out_of_budget();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(ws.parses_out_of_budget(), exhausted);
  EXPECT_EQ(ws.snapshot(path), last);

  const TextChange undo{Range{{0, 15}, {0, 16}}, ""};
  ASSERT_TRUE(ws.change(path, {&undo, 1}, PositionEncoding::utf16, ++version).ok());
  ASSERT_TRUE(settles_within(ws, path, std::chrono::seconds(5)));
  EXPECT_NE(ws.snapshot(path)->tree(), nullptr) << "a later edit parses again";
  EXPECT_FALSE(ws.snapshot(path)->parse_exhausted());
  const TextChange redo{Range{{0, 15}, {0, 15}}, ")"};
  ASSERT_TRUE(ws.change(path, {&redo, 1}, PositionEncoding::utf16, ++version).ok());
  ASSERT_TRUE(settles_within(ws, path, std::chrono::seconds(5)));
  EXPECT_TRUE(ws.snapshot(path)->parse_exhausted());
  EXPECT_EQ(log->count_after(2, std::chrono::seconds(5)), 2u) << "reported again after a version had parsed";
}

// The other ways a text gets parsed: a Document without a cap (constructor and every edit), a
// capped Document finishing its parse on its own thread, a Snapshot parsed from scratch (the
// language server's code-action check and accepted-completion snapshots), parse_text (the
// folder indexer) and parse_to_end (the background thread).
TEST(TsxParserLoop, EveryParseEntryPointIsBounded) {
  const Language* tsx = language_by_id("typescriptreact");
  const ParseBudget budget{std::chrono::milliseconds(100), std::chrono::microseconds(0)};
  const std::string text(kTsxLoop);
  auto t0 = Clock::now();
  Document doc("/r/a.tsx", tsx, text, 1, std::chrono::microseconds(0), budget);
  EXPECT_TRUE(doc.current().parse_exhausted());
  ASSERT_TRUE(doc.apply_bytes(15, 16, "", 2).ok());  // parses
  EXPECT_NE(doc.current().tree(), nullptr);
  ASSERT_TRUE(doc.apply_bytes(15, 15, ")", 3).ok());  // loops again: uncapped edit, budget
  EXPECT_TRUE(doc.current().parse_exhausted());
  EXPECT_FALSE(doc.parse_pending());
  EXPECT_LT(seconds_since(t0), 3.0);

  t0 = Clock::now();
  Document capped("/r/b.tsx", tsx, text.substr(0, 15), 1, std::chrono::microseconds(1), budget);
  ASSERT_NE(capped.current().tree(), nullptr);
  ASSERT_TRUE(capped.apply_bytes(15, 15, ")", 2).ok());
  ASSERT_TRUE(capped.parse_pending());
  const SnapshotPtr stale = capped.snapshot();
  ParserPtr parser(ts_parser_new());
  ParseEnd end = ParseEnd::complete;
  EXPECT_EQ(Document::parse_to_end(parser.get(), *stale, nullptr, budget, &end), nullptr);
  EXPECT_EQ(end, ParseEnd::out_of_time);
  capped.finish_parse();
  EXPECT_FALSE(capped.parse_pending());
  EXPECT_TRUE(capped.current().parse_exhausted());
  EXPECT_EQ(capped.current().version(), 2);
  EXPECT_FALSE(capped.give_up_parse(stale)) << "a replaced snapshot is not given up twice";

  const Snapshot snap("/r/c.tsx", tsx, text, 1, budget);
  EXPECT_TRUE(snap.parse_exhausted());
  EXPECT_EQ(snap.tree(), nullptr);
  end = ParseEnd::complete;
  EXPECT_EQ(parse_text(parser.get(), tsx, text, nullptr, budget, &end), nullptr);
  EXPECT_EQ(end, ParseEnd::out_of_time);
  // The parser is usable after an interrupted parse.
  end = ParseEnd::out_of_time;
  EXPECT_NE(parse_text(parser.get(), tsx, "const x = <b>{1}</b>;\n", nullptr, budget, &end), nullptr);
  EXPECT_EQ(end, ParseEnd::complete);
  EXPECT_LT(seconds_since(t0), 3.0);
}

TEST(TsxParserLoop, FolderIndexingIsBounded) {
  testing::TempDir dir;
  std::ofstream(dir.path() / "poc.tsx") << kTsxLoop;
  std::ofstream(dir.path() / "ok.tsx") << "export function okay(n: number) {\n  return <b>{n}</b>;\n}\n";
  auto log = std::make_shared<LogLines>();
  Workspace ws(logged_options(log, std::chrono::milliseconds(200)));
  const auto t0 = Clock::now();
  ws.add_folder(dir.path().string());  // synchronous (background = false)
  EXPECT_LT(seconds_since(t0), 3.0);
  EXPECT_EQ(ws.stats().files_indexed, 2u);
  const std::vector<SymbolHit> hits = ws.lookup("okay");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_TRUE(hits[0].path.ends_with("ok.tsx"));
}

#ifdef RAPIDE_BINARY
// `rapide context` on the file: the command returns and prints a line-cut context.
TEST(TsxParserLoop, ContextCommandReturns) {
  testing::TempDir dir;
  const std::string file = (dir.path() / "poc.tsx").string();
  std::ofstream(file) << kTsxLoop;
  const auto t0 = Clock::now();
  const testing::ProcessResult r = testing::run_process({RAPIDE_BINARY, "context", file + ":1:17"}, "", 30);
  EXPECT_LT(seconds_since(t0), 10.0);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("syntax tree: none"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(std::string(kTsxLoop) + "<CURSOR>"), std::string::npos) << r.out;
}

std::string lsp_frame(const std::string& body) {
  return "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// The language server opens the file on its I/O thread, then takes edits and answers requests.
TEST(TsxParserLoop, LanguageServerKeepsAnswering) {
  const std::string uri = "file:///regression/poc.tsx";
  const std::string loop(kTsxLoop);
  std::string in;
  in += lsp_frame(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":null,"rootUri":null,"capabilities":{}}})");
  in += lsp_frame(R"({"jsonrpc":"2.0","method":"initialized","params":{}})");
  in += lsp_frame(R"({"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":")" + uri +
                  R"(","languageId":"typescriptreact","version":1,"text":")" + loop + R"("}}})");
  // Type a newline and the loop's text again, one change each (every version loops).
  in += lsp_frame(R"({"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":")" + uri +
                  R"(","version":2},"contentChanges":[{"range":{"start":{"line":0,"character":16},"end":{"line":0,"character":16}},"text":"\n"}]}})");
  in += lsp_frame(R"({"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":")" + uri +
                  R"(","version":3},"contentChanges":[{"range":{"start":{"line":1,"character":0},"end":{"line":1,"character":0}},"text":")" +
                  loop + R"("}]}})");
  in += lsp_frame(R"({"jsonrpc":"2.0","id":2,"method":"rapide/document","params":{"textDocument":{"uri":")" + uri +
                  R"("},"includeText":true}})");
  in += lsp_frame(R"({"jsonrpc":"2.0","id":3,"method":"shutdown"})");
  in += lsp_frame(R"({"jsonrpc":"2.0","method":"exit"})");
  const auto t0 = Clock::now();
  const testing::ProcessResult r = testing::run_process({RAPIDE_BINARY, "serve", "--log-level", "info"}, in, 60);
  EXPECT_LT(seconds_since(t0), 15.0);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(R"("id":1,"jsonrpc":"2.0","result")"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(R"("text":")" + loop + "\\n" + loop + R"(")"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(R"("version":3)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(R"("id":3,"jsonrpc":"2.0","result":null)"), std::string::npos) << r.out;
  // The workspace's report reaches the server's log (stderr), once for the document.
  const std::string said = "did not finish within its budget";
  const std::size_t first = r.err.find(said);
  EXPECT_NE(first, std::string::npos) << r.err;
  if (first != std::string::npos) {
    EXPECT_EQ(r.err.find(said, first + 1), std::string::npos) << r.err;
  }
}
#endif

}  // namespace
}  // namespace rapide::context
