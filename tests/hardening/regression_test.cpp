// Regression tests for the bugs found by fuzzing and the sanitizer lane (issue 11). Each test
// names the fuzz target that found the bug; the reproducer is also in that target's corpus
// (fuzz/corpus/<target>/regression-*), so the fuzzers replay it on every run.
#include "rapide/context/completion_context.h"
#include "rapide/context/workspace.h"

#include <gtest/gtest.h>

#include <string>

namespace rapide::context {
namespace {

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

}  // namespace
}  // namespace rapide::context
