// Golden tests per language: context assembly and completion post-processing on realistic
// fixture projects (tests/context/fixtures/<lang>/). Expected outputs live in
// tests/context/golden/; set RAPIDE_UPDATE_GOLDEN=1 to rewrite them after a deliberate change
// (and review the diff).
#include "rapide/context/completion_context.h"
#include "rapide/context/postprocess.h"
#include "rapide/context/workspace.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace rapide::context {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = fs::path(RAPIDE_SOURCE_DIR) / "tests/context/fixtures";
const fs::path kGolden = fs::path(RAPIDE_SOURCE_DIR) / "tests/context/golden";

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Where the cursor goes: right after the first occurrence of `after`; the text from there up to
// the first occurrence of `delete_until` (when given) is removed, as if not yet typed.
struct Cursor {
  std::string after;
  std::string delete_until;
};

struct PostCase {
  Cursor cursor;
  std::string completion;  // what a model might produce
};

struct LanguageCase {
  std::string lang;               // fixture folder
  std::string file;               // the file being edited, relative to the fixture folder
  std::vector<std::string> open;  // other open files
  Cursor context_cursor;
  std::vector<PostCase> post;
};

// Places the cursor; returns the edited text and the cursor byte, or fails the test.
std::pair<std::string, uint32_t> place(const std::string& text, const Cursor& c) {
  const size_t at = text.find(c.after);
  EXPECT_NE(at, std::string::npos) << "anchor not found: " << c.after;
  if (at == std::string::npos) return {text, 0};
  const size_t cursor = at + c.after.size();
  std::string out = text;
  if (!c.delete_until.empty()) {
    const size_t end = text.find(c.delete_until, cursor);
    EXPECT_NE(end, std::string::npos) << "delete_until anchor not found: " << c.delete_until;
    if (end != std::string::npos) out.erase(cursor, end - cursor);
  }
  return {out, static_cast<uint32_t>(cursor)};
}

void check_golden(const std::string& name, std::string actual) {
  const fs::path path = kGolden / name;
  const char* update = std::getenv("RAPIDE_UPDATE_GOLDEN");
  if (update && *update && std::string(update) != "0") {
    fs::create_directories(kGolden);
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  ASSERT_TRUE(fs::exists(path)) << path << " is missing: run with RAPIDE_UPDATE_GOLDEN=1 to create it";
  EXPECT_EQ(read(path), actual) << "golden " << path
                                << " differs; if the change is intended, rerun with RAPIDE_UPDATE_GOLDEN=1";
}

std::string relative(std::string s, const std::string& root) {
  for (size_t p; (p = s.find(root)) != std::string::npos;) s.replace(p, root.size(), "<fixture>");
  return s;
}

const std::vector<LanguageCase>& cases() {
  static const std::vector<LanguageCase> c = {
      {"c",
       "src/line_reader.c",
       {"src/ring_buffer.c"},
       {"      if (len == 0) break;\n      uint8_t discard;\n      ", "\n      line[len] = '\\0';"},
       {
           // block end: the model continues past the loop's closing brace
           {{"      if (len == 0) break;\n      uint8_t discard;\n      ", "\n      line[len] = '\\0';"},
            "for (size_t i = 0; i <= len; ++i)\n        ring_pop(&rb, &discard);\n      line[len] = '\\0';\n      dispatch(line);\n    }\n  }\n  return 0;\n}"},
           // suffix overlap: the model repeats the lines that follow
           {{"static int cmd_echo(const char *args) {\n  ", "\n  return 0;"},
            "printf(\"%s\\n\", args);\n  return 0;\n}"},
       }},
      {"cpp",
       "src/report.cpp",
       {"src/polygon.cpp", "include/geo/polygon.h"},
       {"    const double perimeter = polygon.", "\n    if (perimeter >"},
       {
           // single line: the cursor has text after it on its line
           {{"const double area = std::abs(polygon.", ");\n    summary_.count++"}, "signed_area());\n    summary_.count++;"},
           // parse check: a dangling operator is cut back
           {{"    out_ << summary_.count << \" polygons, total area \" << ", ";\n  }\n\n private:"},
            "summary_.total_area << \"\\n\" <<\n"},
       }},
      {"python",
       "inventory/service.py",
       {"inventory/models.py"},
       {"    def total_value(self) -> Decimal:\n        total = Decimal(0)\n        for level in self._levels.values():\n            ",
        "\n        return total"},
       {
           // dedent: the model writes the rest of the method and a new one
           {{"    def total_value(self) -> Decimal:\n        total = Decimal(0)\n        for level in self._levels.values():\n            ",
             "\n        return total"},
            "total += level.value()\n        return total\n\n    def count(self) -> int:\n        return len(self._levels)\n"},
           // dedent below the cursor line: a completion inside a loop must not leave the loop
           {{"    for row in rows:\n        ", "\n    return inventory"},
            "item = Item(row[\"sku\"], row[\"name\"], Decimal(row[\"price\"]))\n        inventory.add_item(item, int(row[\"quantity\"]))\n    return inventory\n"},
       }},
      {"javascript",
       "lib/github.js",
       {"lib/http.js"},
       {"    try {\n      batch = await ", "\n    } catch (err) {"},
       {
           {{"    try {\n      batch = await ", "\n    } catch (err) {"},
            "fetchJson(issuesUrl(owner, repo, page));\n    } catch (err) {\n      throw err;\n    }"},
           {{"export function groupByLabel(issues) {\n  ", "\n  return groups;\n}"},
            "const groups = new Map();\n  for (const issue of issues) {\n    for (const l of issue.labels) {\n      if (!groups.has(l.name)) groups.set(l.name, []);\n      groups.get(l.name).push(issue);\n    }\n  }\n  return groups;\n}\n\nexport function other() {"},
       }},
      {"typescript",
       "src/board.ts",
       {"src/types.ts"},
       {"      byStatus[task.status] += 1;\n      if (task.status !== Status.Done) {\n        ", "\n      }\n    }\n    return {"},
       {
           {{"      byStatus[task.status] += 1;\n      if (task.status !== Status.Done) {\n        ", "\n      }\n    }\n    return {"},
            "remainingHours += task.estimateHours;\n      }\n    }\n    return stats;"},
           {{"  ready(): Task[] {\n    const done = this.doneIds();\n    return [...this.tasks.values()]\n      .filter((t) => ", "\n      .sort("},
            "t.status === Status.Todo && !isBlocked(t, done))\n      .sort((a, b) => a.estimateHours - b.estimateHours);\n  }\n\n  clear(): void {"},
       }},
      {"rust",
       "src/parser.rs",
       {"src/token.rs"},
       {"            let (a, b) = (eval(l, vars)?, eval(r, vars)?);\n            match op {\n                Token::Plus => ",
        "\n                Token::Minus"},
       {
           {{"            let (a, b) = (eval(l, vars)?, eval(r, vars)?);\n            match op {\n                Token::Plus => ",
             "\n                Token::Minus"},
            "Ok(a + b),\n                Token::Minus => Ok(a - b),\n            }\n        }\n    }\n}"},
           {{"    fn peek(&self) -> Option<&Token> {\n        ", "\n    }\n\n    fn next"},
            "self.tokens.get(self.pos)\n    }\n\n    fn next(&mut self) -> Option<Token> {"},
       }},
      {"go",
       "cmd/server/main.go",
       {"internal/store/store.go"},
       {"func (s *server) handleDelete(w http.ResponseWriter, r *http.Request) {\n\tkey := r.PathValue(\"key\")\n\t",
        "\n\tw.WriteHeader(http.StatusNoContent)\n}\n\nfunc main"},
       {
           {{"func (s *server) handleDelete(w http.ResponseWriter, r *http.Request) {\n\tkey := r.PathValue(\"key\")\n\t",
             "\n\tw.WriteHeader(http.StatusNoContent)\n}\n\nfunc main"},
            "if !s.db.Delete(key) {\n\t\thttp.Error(w, \"not found\", http.StatusNotFound)\n\t\treturn\n\t}\n\tw.WriteHeader(http.StatusNoContent)\n}\n\nfunc (s *server) handleList("},
           {{"\tport := ", "\n\ts.log.Println"}, "8080\n\ts.log.Println(\"listening on :\" + strconv.Itoa(port))\n\tlog.Fatal(http.ListenAndServe(\":\"+strconv.Itoa(port), mux))\n}\n"},
       }},
      {"java",
       "src/main/java/com/acme/bank/Bank.java",
       {"src/main/java/com/acme/bank/Account.java"},
       {"        Account to = find(toId).orElseThrow(() -> new IllegalArgumentException(\"no account \" + toId));\n        ",
        "\n    }\n\n    public BigDecimal totalDeposits"},
       {
           {{"        Account to = find(toId).orElseThrow(() -> new IllegalArgumentException(\"no account \" + toId));\n        ",
             "\n    }\n\n    public BigDecimal totalDeposits"},
            "from.withdraw(amount);\n        to.deposit(amount);\n    }\n\n    public void close(String id) {"},
           {{"        for (Account account : accounts.values()) {\n            total = ", "\n        }\n        return total;"},
            "total.add(account.getBalance()));"},
       }},
  };
  return c;
}

class Golden : public ::testing::TestWithParam<size_t> {};

TEST_P(Golden, ContextAssembly) {
  const LanguageCase& lc = cases()[GetParam()];
  const fs::path root = kFixtures / lc.lang;
  WorkspaceOptions wo;
  wo.background = false;
  Workspace ws(wo);
  ws.add_folder(root.string());
  const auto [text, cursor] = place(read(root / lc.file), lc.context_cursor);
  const std::string path = (root / lc.file).lexically_normal().string();
  ws.open(path, "", text, 1);
  for (const std::string& o : lc.open) ws.open((root / o).lexically_normal().string(), "", read(root / o), 1);
  const SnapshotPtr doc = ws.snapshot(path);
  ASSERT_NE(doc, nullptr);
  ASSERT_NE(doc->tree(), nullptr);
  ContextOptions opts;
  opts.budget_tokens = 900;
  const CompletionContext c = build_completion_context(ws, *doc, cursor, opts);
  EXPECT_LE(c.tokens_used, opts.budget_tokens);
  EXPECT_TRUE(c.prefix.ends_with(std::string_view(text).substr(c.window_start_byte, cursor - c.window_start_byte)));
  EXPECT_EQ(c.suffix, text.substr(cursor, c.suffix_end_byte - cursor));
  // Deterministic: the same inputs give the same context.
  const CompletionContext again = build_completion_context(ws, *doc, cursor, opts);
  EXPECT_EQ(describe_context(again), describe_context(c));
  check_golden(lc.lang + ".context.txt", relative(describe_context(c), root.lexically_normal().string()));
}

TEST_P(Golden, PostProcessing) {
  const LanguageCase& lc = cases()[GetParam()];
  const fs::path root = kFixtures / lc.lang;
  std::string out;
  for (size_t i = 0; i < lc.post.size(); ++i) {
    const PostCase& pc = lc.post[i];
    const auto [text, cursor] = place(read(root / lc.file), pc.cursor);
    const Snapshot doc(lc.file, language_for_path(lc.file), text, 1);
    const ProcessedCompletion p = postprocess_completion(doc, cursor, pc.completion);
    // Streaming: feeding the completion token by token stops where the line rules stop it.
    StreamingStopper stopper(doc, cursor);
    size_t fed = 0;
    while (fed < pc.completion.size() && !stopper.feed(std::string_view(pc.completion).substr(0, fed + 3))) fed += 3;
    out += "== case " + std::to_string(i + 1) + " ==\n-- model output --\n" + pc.completion + "\n-- kept (" +
           (p.stop_reason.empty() ? std::string("no cut") : p.stop_reason) + ") --\n" + p.text +
           "\n-- streaming stop: " + (stopper.should_stop() ? stopper.reason() + " after " +
                                                                 std::to_string(stopper.keep_bytes()) + " bytes"
                                                           : std::string("none")) +
           "\n";
  }
  check_golden(lc.lang + ".postprocess.txt", out);
}

INSTANTIATE_TEST_SUITE_P(Languages, Golden, ::testing::Range<size_t>(0, 8), [](const auto& param_info) {
  return cases()[param_info.param].lang;
});

}  // namespace
}  // namespace rapide::context
