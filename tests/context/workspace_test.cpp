// The workspace: open documents, background folder index (.gitignore, limits), import
// resolution; plus the .gitignore matcher.
#include "rapide/context/workspace.h"

#include "../../context/gitignore.h"

#include <gtest/gtest.h>
#include <test_support.h>

#include <chrono>
#include <filesystem>
#include <fstream>

namespace rapide::context {
namespace {

namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

TEST(GitIgnore, CommonPatterns) {
  EXPECT_TRUE(glob_match("*.o", "main.o"));
  EXPECT_FALSE(glob_match("*.o", "src/main.o"));  // callers match the base name for unanchored
  EXPECT_TRUE(glob_match("**/gen/*.py", "a/b/gen/x.py"));
  EXPECT_TRUE(glob_match("**/gen/*.py", "gen/x.py"));
  EXPECT_TRUE(glob_match("doc/**", "doc/a/b.md"));
  EXPECT_TRUE(glob_match("file[0-9].txt", "file7.txt"));
  EXPECT_FALSE(glob_match("file[!0-9].txt", "file7.txt"));
  EXPECT_TRUE(glob_match("a?c", "abc"));
  EXPECT_FALSE(glob_match("a?c", "a/c"));
  GitIgnore g;
  g.add_rules("", "# comment\n*.log\n/out/\ngenerated/\n!keep.log\nsecret.py\n");
  g.add_rules("sub", "local_*.py\n");
  EXPECT_TRUE(g.ignored("x.log", false));
  EXPECT_TRUE(g.ignored("a/b/x.log", false));
  EXPECT_FALSE(g.ignored("keep.log", false));
  EXPECT_TRUE(g.ignored("out", true));
  EXPECT_FALSE(g.ignored("a/out", true));  // anchored to the root
  EXPECT_FALSE(g.ignored("out", false));   // directory-only rule
  EXPECT_TRUE(g.ignored("x/generated", true));
  EXPECT_TRUE(g.ignored("sub/local_cfg.py", false));
  EXPECT_FALSE(g.ignored("local_cfg.py", false));
  EXPECT_TRUE(g.ignored("deep/secret.py", false));
}

TEST(Workspace, IndexesFoldersRespectingGitignoreAndResolvesImports) {
  testing::TempDir dir;
  const fs::path root = dir.path();
  write(root / ".gitignore", "ignored/\n*.gen.py\n");
  write(root / "pkg/util.py", "def helper(x: int) -> int:\n    return x * 2\n\nclass Config:\n    debug = False\n");
  write(root / "pkg/__init__.py", "");
  write(root / "pkg/skip.gen.py", "def generated_only():\n    pass\n");
  write(root / "ignored/hidden.py", "def hidden_only():\n    pass\n");
  write(root / "node_modules/lib/index.js", "function fromNodeModules() {}\n");
  write(root / "src/include/net/socket.h", "int open_socket(const char *host, int port);\n");
  write(root / "src/main.c", "#include \"net/socket.h\"\nint main(void) { return open_socket(\"h\", 1); }\n");
  WorkspaceOptions o;
  Workspace ws(o);  // background indexing
  ws.add_folder(root.string());
  ws.wait_idle();
  const IndexStats st = ws.stats();
  EXPECT_FALSE(st.running);
  EXPECT_FALSE(st.truncated);
  EXPECT_GE(st.files_indexed, 4u);
  ASSERT_EQ(ws.lookup("helper").size(), 1u);
  EXPECT_EQ(ws.lookup("helper")[0].definition.signature, "def helper(x: int) -> int:\n    ...");
  EXPECT_TRUE(ws.lookup("generated_only").empty());
  EXPECT_TRUE(ws.lookup("hidden_only").empty());
  EXPECT_TRUE(ws.lookup("fromNodeModules").empty());
  EXPECT_EQ(ws.lookup("open_socket").size(), 1u);

  // An open document shadows the indexed file and is updated by edits.
  const std::string app = (root / "app.py").string();
  ws.open(app, "python", "from pkg.util import helper\nfrom .pkg import util\n\nprint(helper(2))\n", 1);
  const SnapshotPtr s = ws.snapshot(app);
  const auto& imports = s->symbols().imports;
  ASSERT_EQ(imports.size(), 2u);
  EXPECT_EQ(imports[0].target, "pkg.util");
  EXPECT_EQ(ws.resolve_import(*s, imports[0]), (root / "pkg/util.py").lexically_normal().string());
  EXPECT_EQ(ws.resolve_import(*s, imports[1]), (root / "pkg/__init__.py").lexically_normal().string());
  std::vector<TextChange> ch{{Range{{3, 0}, {3, 0}}, "def added_later():\n    pass\n"}};
  ASSERT_TRUE(ws.change(app, ch, PositionEncoding::utf16, 2).ok());
  // A lookup right after the edit may read the previous version and asks the background thread
  // for the new version's definitions.
  (void)ws.lookup("added_later");
  ws.wait_parsed();
  ASSERT_EQ(ws.lookup("added_later").size(), 1u);
  EXPECT_TRUE(ws.lookup("added_later")[0].from_open_document);
  EXPECT_FALSE(ws.change("/no/such/file.py", ch, PositionEncoding::utf16, 1).ok());
  ws.close(app);
  EXPECT_TRUE(ws.lookup("added_later").empty());

  const std::string main_c = (root / "src/main.c").string();
  ws.open(main_c, "c", "#include \"net/socket.h\"\nint main(void) { return open_socket(\"h\", 1); }\n", 1);
  const SnapshotPtr c = ws.snapshot(main_c);
  ASSERT_EQ(c->symbols().imports.size(), 1u);
  EXPECT_EQ(ws.resolve_import(*c, c->symbols().imports[0]),
            (root / "src/include/net/socket.h").lexically_normal().string());
}

TEST(Workspace, IndexingIsBoundedByLimits) {
  testing::TempDir dir;
  for (int i = 0; i < 30; ++i)
  {
    std::string name = "m", body = "def f";
    name.append(std::to_string(i)).append(".py");
    body.append(std::to_string(i)).append("():\n    return 1\n");
    write(dir.path() / name, body);
  }
  WorkspaceOptions o;
  o.background = false;
  o.max_files = 10;
  Workspace ws(o);
  ws.add_folder(dir.path().string());
  const IndexStats st = ws.stats();
  EXPECT_EQ(st.files_indexed, 10u);
  EXPECT_TRUE(st.truncated);
}

TEST(Workspace, ResolvesImportsAcrossLanguages) {
  testing::TempDir dir;
  const fs::path root = dir.path();
  write(root / "web/src/api/client.ts", "export function get(url: string) { return url; }\n");
  write(root / "web/src/app.ts", "import { get } from './api/client';\n");
  write(root / "crate/src/lexer/mod.rs", "pub fn lex() {}\n");
  write(root / "crate/src/main.rs", "mod lexer;\nuse crate::lexer::lex;\n");
  write(root / "go/internal/store/store.go", "package store\nfunc New() {}\n");
  write(root / "go/cmd/main.go", "package main\nimport \"example.com/x/internal/store\"\n");
  write(root / "java/src/com/acme/Util.java", "package com.acme;\npublic class Util {}\n");
  write(root / "java/src/com/acme/App.java", "package com.acme;\nimport com.acme.Util;\n");
  write(root / "lua/lib/strings.lua", "local M = {}\nreturn M\n");
  write(root / "lua/init.lua", "local s = require(\"lib.strings\")\n");
  WorkspaceOptions o;
  o.background = false;
  Workspace ws(o);
  ws.add_folder(root.string());
  ws.add_folder((root / "crate").string());
  ws.add_folder((root / "lua").string());
  struct Case {
    const char* file;
    const char* expect;
    size_t import_index;
  };
  for (const Case& c : {Case{"web/src/app.ts", "web/src/api/client.ts", 0}, Case{"crate/src/main.rs", "crate/src/lexer/mod.rs", 0},
                        Case{"crate/src/main.rs", "crate/src/lexer/mod.rs", 1}, Case{"go/cmd/main.go", "go/internal/store/store.go", 0},
                        Case{"java/src/com/acme/App.java", "java/src/com/acme/Util.java", 1},
                        Case{"lua/init.lua", "lua/lib/strings.lua", 0}}) {
    std::ifstream in(root / c.file);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const Snapshot s((root / c.file).lexically_normal().string(), language_for_path(c.file), text, 1);
    ASSERT_GT(s.symbols().imports.size(), c.import_index) << c.file;
    EXPECT_EQ(ws.resolve_import(s, s.symbols().imports[c.import_index]), (root / c.expect).lexically_normal().string())
        << c.file << " import " << c.import_index;
  }
}

// With a tiny parse time cap every reparse of a breaking keystroke is finished by the
// background thread: wait_parsed() returns once the published snapshot has a fresh tree of the
// latest version, equal to a fresh parse; edits made meanwhile are never lost.
TEST(Workspace, CappedReparsesFinishInTheBackground) {
  WorkspaceOptions wo;
  wo.background = false;
  wo.parse_time_cap = std::chrono::microseconds(1);
  Workspace ws(wo);
  std::string text = "import os\n\n";
  for (int c = 0; c < 30; ++c)
    text += "class C" + std::to_string(c) + ":\n    def run(self, items):\n        total = 0\n"
            "        for item in items:\n            total += len(item)\n        return total\n\n";
  ws.open("/w/big.py", "python", text, 1);
  ws.open("/w/other.py", "python", text, 1);
  ws.wait_parsed();
  EXPECT_FALSE(ws.snapshot("/w/big.py")->tree_stale());
  std::string model = text;
  uint32_t line = 20;
  for (int k = 0; k < 6; ++k) {  // keystrokes at a line end that break and mend the syntax
    const SnapshotPtr s = ws.snapshot("/w/big.py");
    const uint32_t col = static_cast<uint32_t>(s->lines().line_text(line).size());
    const std::string ins = k % 2 ? ")" : "(";
    std::vector<TextChange> ch{{Range{{line, col}, {line, col}}, ins}};
    ASSERT_TRUE(ws.change("/w/big.py", ch, PositionEncoding::utf16, k + 2).ok());
    model.insert(s->lines().line_start(line) + col, ins);
    EXPECT_EQ(ws.snapshot("/w/big.py")->text(), model);  // the new text is published at once
    if (k == 2) ws.wait_parsed();
    line += 7;
  }
  ws.wait_parsed();
  const SnapshotPtr done = ws.snapshot("/w/big.py");
  EXPECT_FALSE(done->tree_stale());
  EXPECT_EQ(done->version(), 7);
  EXPECT_EQ(done->text(), model);
  const Snapshot reference("/w/big.py", language_by_id("python"), model, 7);
  EXPECT_EQ(tree_sexp(done->tree()), tree_sexp(reference.tree()));
  ws.close("/w/big.py");  // closing with nothing pending, and destroying the workspace, are clean
  std::vector<TextChange> ch{{Range{{3, 0}, {3, 0}}, "def broken(:\n"}};
  ASSERT_TRUE(ws.change("/w/other.py", ch, PositionEncoding::utf16, 2).ok());
}

// Definitions of a new version are never computed on the completion path (40-90 ms on a
// 10k-line file): lookups read the newest version whose symbols are ready and the background
// thread computes the current one's; after that the new definitions are found.
TEST(Workspace, DefinitionsOfANewVersionAreComputedOffTheCompletionPath) {
  WorkspaceOptions wo;
  wo.background = false;
  Workspace ws(wo);
  ws.open("/w/a.py", "python", "def alpha_helper(x):\n    return x * 2\n", 1);
  ws.open("/w/b.py", "python", "from a import alpha_helper\n\nprint(alpha_helper(3))\n", 1);
  // Never computed yet: the current snapshot is returned and computed by the caller, once.
  for (const SnapshotPtr& s : ws.symbol_snapshots()) EXPECT_EQ(s->version(), 1);
  ASSERT_EQ(ws.lookup("alpha_helper", 8, "/w/b.py").size(), 1u);
  std::vector<TextChange> rename{{Range{{0, 4}, {0, 16}}, "beta_helper"}};
  ASSERT_TRUE(ws.change("/w/a.py", rename, PositionEncoding::utf16, 2).ok());
  // Right after the edit: a ready version (the old one, or the new one if the background thread
  // was quick), never one whose symbols the caller would have to compute.
  for (const SnapshotPtr& s : ws.symbol_snapshots("/w/b.py")) {
    EXPECT_TRUE(s->symbols_ready()) << s->path() << " v" << s->version();
  }
  // The background thread may publish version 2 between two lookups: the definition is found
  // under one name or the other, never missing.
  const auto old_hits = ws.lookup("alpha_helper", 8, "/w/b.py");
  const auto new_hits = ws.lookup("beta_helper", 8, "/w/b.py");
  EXPECT_GE(old_hits.size() + new_hits.size(), 1u);
  for (const auto& h : old_hits) EXPECT_EQ(h.definition.name, "alpha_helper");
  for (const auto& h : new_hits) EXPECT_EQ(h.definition.name, "beta_helper");
  // A request made while version 2's tree was still being finished (a capped reparse) computes
  // the symbols of what was current then: ask again once the parse is done, as the next
  // completion would, and wait for that computation.
  ws.wait_parsed();
  (void)ws.symbol_snapshots();
  ws.wait_parsed();
  const std::vector<SnapshotPtr> now = ws.symbol_snapshots();
  ASSERT_EQ(now.size(), 2u);
  EXPECT_EQ(now[0]->path(), "/w/a.py");
  EXPECT_EQ(now[0]->version(), 2);
  EXPECT_TRUE(ws.lookup("alpha_helper").empty());
  const auto hits = ws.lookup("beta_helper");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].definition.text_if_small, "def beta_helper(x):\n    return x * 2");
}

}  // namespace
}  // namespace rapide::context
