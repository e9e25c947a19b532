// libFuzzer target for context building: a random code-like document of a random language
// (plus a second open document and a workspace definition lookup) and random cursor offsets,
// through build_completion_context with small and large budgets.
// Checks, besides no crash/UB/leak/hang:
//   - the cursor is clamped into the text and lands on a character start;
//   - window_start <= cursor <= suffix_end <= text size;
//   - the prefix ends with the text of [window_start, cursor) and the suffix is exactly the
//     text of [cursor, suffix_end) (the window and suffix are verbatim, never rewritten);
//   - pieces' line ranges are ordered (start <= end);
//   - the same inputs give the same context (determinism);
//   - parses end within the workspace's parse budget (0.25 s here, so that texts on which a
//     grammar never finishes, like tree-sitter-typescript #323's, stay under the libFuzzer
//     timeout) and a document without a tree still gets a context.
#include "fuzz_input.h"

#include "rapide/context/completion_context.h"
#include "rapide/context/languages.h"
#include "rapide/context/workspace.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

using namespace rapide::context;
using rapide::fuzz::ByteReader;

[[noreturn]] void fail(const char* what, const std::string& text, uint32_t cursor) {
  std::fprintf(stderr, "completion_context_fuzz: %s (cursor %u)\ntext:\n%s\n", what, cursor, text.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteReader in(data, size);
  auto langs = languages();
  const Language& lang = langs[in.u8() % langs.size()];
  std::string text = rapide::fuzz::code_text(in, in.u16() % 600);
  std::string other = rapide::fuzz::code_text(in, in.u8());

  WorkspaceOptions wo;
  wo.background = false;
  wo.parse_budget.base = std::chrono::milliseconds(250);
  Workspace ws(wo);
  std::string ext = lang.extensions.empty() ? ".txt" : std::string(lang.extensions[0]);
  const std::string path = "/fuzz/main" + ext, other_path = "/fuzz/other" + ext;
  ws.open(path, lang.id, text, 1);
  ws.open(other_path, lang.id, other, 1);
  SnapshotPtr snap = ws.snapshot(path);
  if (!snap) fail("open document has no snapshot", text, 0);
  const std::string& t = snap->text();

  for (int k = 0; k < 3 && !in.empty(); ++k) {
    uint32_t cursor = in.u16() % (static_cast<uint32_t>(t.size()) + 8);
    ContextOptions options;
    options.budget_tokens = (in.u8() & 1) ? 64 + in.u8() : 1536;
    CompletionContext c = build_completion_context(ws, *snap, cursor, options);
    if (c.cursor_byte > t.size()) fail("cursor past the end", t, cursor);
    if (c.cursor_byte < t.size() && (static_cast<unsigned char>(t[c.cursor_byte]) & 0xC0) == 0x80)
      fail("cursor inside a character", t, cursor);
    if (!(c.window_start_byte <= c.cursor_byte && c.cursor_byte <= c.suffix_end_byte && c.suffix_end_byte <= t.size()))
      fail(("window/cursor/suffix offsets out of order: window_start " + std::to_string(c.window_start_byte) + ", cursor " +
            std::to_string(c.cursor_byte) + ", suffix_end " + std::to_string(c.suffix_end_byte) + ", size " +
            std::to_string(t.size()) + ", language " + std::string(lang.id)).c_str(),
           t, cursor);
    std::string_view window(t.data() + c.window_start_byte, c.cursor_byte - c.window_start_byte);
    if (c.prefix.size() < window.size() || c.prefix.compare(c.prefix.size() - window.size(), window.size(), window) != 0)
      fail("prefix does not end with the window text", t, cursor);
    if (c.suffix != std::string_view(t.data() + c.cursor_byte, c.suffix_end_byte - c.cursor_byte))
      fail("suffix is not the text after the cursor", t, cursor);
    for (const ContextPiece& p : c.pieces)
      if (p.start_line > p.end_line) fail("piece with start_line > end_line", t, cursor);
    CompletionContext again = build_completion_context(ws, *snap, cursor, options);
    if (again.prefix != c.prefix || again.suffix != c.suffix || again.cross_file.size() != c.cross_file.size())
      fail("context not deterministic", t, cursor);
    (void)describe_context(c);
  }
  return 0;
}
