// Text positions, UTF-8 sanitizing, documents with incremental edits, and the randomized
// edit/reparse consistency test.
#include "rapide/context/document.h"

#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

namespace rapide::context {
namespace {

// ---- an independent, naive reference for positions ----
struct NaiveChar {
  uint32_t byte, len;
};
// Lines as (start, end-without-terminator) using \n, \r\n, \r.
std::vector<std::pair<uint32_t, uint32_t>> naive_lines(const std::string& t) {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  uint32_t s = 0;
  for (uint32_t i = 0; i < t.size(); ++i) {
    if (t[i] == '\n') {
      out.emplace_back(s, i);
      s = i + 1;
    } else if (t[i] == '\r') {
      out.emplace_back(s, i);
      if (i + 1 < t.size() && t[i + 1] == '\n') ++i;
      s = i + 1;
    }
  }
  out.emplace_back(s, static_cast<uint32_t>(t.size()));
  return out;
}
uint32_t char_len(unsigned char c) { return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }
Position naive_position(const std::string& t, uint32_t byte, PositionEncoding enc) {
  const auto lines = naive_lines(t);
  for (uint32_t l = 0; l < lines.size(); ++l) {
    const bool last = l + 1 == lines.size();
    const uint32_t next = last ? UINT32_MAX : lines[l + 1].first;
    if (byte < next) {
      uint32_t units = 0;
      for (uint32_t i = lines[l].first; i < std::min(byte, lines[l].second);) {
        const uint32_t n = char_len(static_cast<unsigned char>(t[i]));
        if (i + n > byte) break;
        units += enc == PositionEncoding::utf8 ? n : (n == 4 ? 2 : 1);
        i += n;
      }
      return {l, units};
    }
  }
  return {};
}

TEST(Text, SanitizeReplacesInvalidSequences) {
  size_t n = 0;
  EXPECT_EQ(sanitize_utf8("plain ascii", &n), "plain ascii");
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(sanitize_utf8("a\xff" "b", &n), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(n, 1u);
  // truncated 3-byte sequence at the end, overlong '/', a UTF-16 surrogate, > U+10FFFF
  EXPECT_EQ(sanitize_utf8("x\xE2\x82"), "x\xEF\xBF\xBD");
  EXPECT_EQ(sanitize_utf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(sanitize_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(sanitize_utf8("\xF4\x90\x80\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  // valid astral-plane character and NUL survive
  EXPECT_EQ(sanitize_utf8(std::string("\xF0\x9F\x98\x80\0z", 6)), std::string("\xF0\x9F\x98\x80\0z", 6));
  EXPECT_TRUE(is_valid_utf8(sanitize_utf8("\x80\x80\xfe\xC2")));
}

TEST(Text, PositionsOnCrlfTabsAndAstralCharacters) {
  // line 0: "\tint x = 1;"  CRLF
  // line 1: "s = \"😀é\"; y"  LF
  // line 2: "lone" CR
  // line 3: "end"
  const std::string t = "\tint x = 1;\r\ns = \"\xF0\x9F\x98\x80\xC3\xA9\"; y\nlone\rend";
  LineIndex li(t);
  ASSERT_EQ(li.line_count(), 4u);
  EXPECT_EQ(li.line_text(0), "\tint x = 1;");
  EXPECT_EQ(li.line_text(2), "lone");
  EXPECT_EQ(li.line_text(3), "end");
  // the byte of 'y' on line 1: s = " (5 bytes) + 😀 (4) + é (2) + "; (2) + ' ' (1) = 14
  const uint32_t y = li.line_start(1) + 14;
  ASSERT_EQ(t[y], 'y');
  EXPECT_EQ(li.position(y, PositionEncoding::utf16), (Position{1, 11}));  // 😀 is 2 UTF-16 units
  EXPECT_EQ(li.position(y, PositionEncoding::utf8), (Position{1, 14}));
  EXPECT_EQ(li.offset({1, 11}, PositionEncoding::utf16), y);
  EXPECT_EQ(li.offset({1, 14}, PositionEncoding::utf8), y);
  // inside the surrogate pair: rounds down to the emoji's start
  EXPECT_EQ(li.offset({1, 6}, PositionEncoding::utf16), li.line_start(1) + 5);
  EXPECT_FALSE(li.exact({1, 6}, PositionEncoding::utf16));
  // past the end of a line: end of that line (before "\r\n"); past the last line: end of text
  EXPECT_EQ(li.offset({0, 99}, PositionEncoding::utf16), li.line_end(0));
  EXPECT_EQ(li.offset({9, 0}, PositionEncoding::utf16), t.size());
  // a tab is one unit
  EXPECT_EQ(li.position(li.line_start(0) + 1, PositionEncoding::utf16), (Position{0, 1}));
  // tree-sitter points count "\n" only: the lone "\r" line and the next share a row
  EXPECT_EQ(li.point(li.line_start(3)).row, 2u);
  EXPECT_EQ(li.point(li.line_start(3)).column, 5u);
  for (uint32_t b = 0; b <= t.size(); ++b)
    for (auto enc : {PositionEncoding::utf8, PositionEncoding::utf16})
      EXPECT_EQ(li.position(b, enc), naive_position(t, b, enc)) << b;
}

// A byte inside a line terminator (between "\r" and "\n") is not a place a cursor can be: clamp
// moves it before the "\r"; every other character start stays where it is. LF, CRLF, lone CR
// and mixed documents.
TEST(Text, ClampMovesOutOfLineTerminators) {
  for (const std::string& t : {std::string("ab\ncd\n\nef"), std::string("ab\r\ncd\r\n\r\nef\r\n"),
                              std::string("ab\rcd\r\ref\r"), std::string("a\r\n\rb\n\r\r\nc\xC3\xA9\r\n")}) {
    const LineIndex li(t);
    for (uint32_t b = 0; b <= t.size() + 3; ++b) {
      const uint32_t c = li.clamp(b);
      SCOPED_TRACE("byte " + std::to_string(b));
      const uint32_t in_text = std::min<uint32_t>(b, static_cast<uint32_t>(t.size()));
      const bool inside_crlf = in_text > 0 && in_text < t.size() && t[in_text - 1] == '\r' && t[in_text] == '\n';
      const bool continuation = in_text < t.size() && (static_cast<unsigned char>(t[in_text]) & 0xC0) == 0x80;
      if (inside_crlf) {
        EXPECT_EQ(c, in_text - 1);
      } else if (!continuation) {
        EXPECT_EQ(c, in_text);
      }
      // the clamped offset is the end of its line at most, and names the same LSP position
      EXPECT_LE(c, li.line_end(li.line_of(c)));
      for (auto enc : {PositionEncoding::utf8, PositionEncoding::utf16}) {
        EXPECT_EQ(li.position(c, enc), li.position(in_text, enc));
        EXPECT_EQ(li.offset(li.position(c, enc), enc), c);
      }
    }
  }
}

TEST(Document, IncrementalEditsMatchAFreshParse) {
  const Language* py = language_by_id("python");
  Document doc("m.py", py, "def f(a):\n    return a\n", 1);
  ASSERT_NE(doc.current().tree(), nullptr);
  // LSP-style change with UTF-16 positions: rename a -> alpha on both lines
  std::vector<TextChange> changes{{Range{{1, 11}, {1, 12}}, "alpha"}, {Range{{0, 6}, {0, 7}}, "alpha"}};
  ASSERT_TRUE(doc.apply(changes, PositionEncoding::utf16, 2).ok());
  EXPECT_EQ(doc.current().text(), "def f(alpha):\n    return alpha\n");
  EXPECT_EQ(doc.current().version(), 2);
  const Snapshot fresh("m.py", py, doc.current().text(), 2);
  EXPECT_EQ(tree_sexp(doc.current().tree()), tree_sexp(fresh.tree()));
  // an inverted range is rejected and changes nothing
  std::vector<TextChange> bad{{Range{{1, 4}, {0, 0}}, "x"}};
  const Status s = doc.apply(bad, PositionEncoding::utf16, 3);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("before its start"), std::string::npos) << s.message();
  EXPECT_EQ(doc.current().version(), 2);
  // full replacement, invalid UTF-8 is replaced
  std::vector<TextChange> full{{std::nullopt, "x = '\xff'\n"}};
  ASSERT_TRUE(doc.apply(full, PositionEncoding::utf16, 4).ok());
  EXPECT_EQ(doc.current().text(), "x = '\xEF\xBF\xBD'\n");
  EXPECT_FALSE(doc.current().has_parse_errors());
}

TEST(Document, SnapshotsAreImmutable) {
  Document doc("a.c", language_by_id("c"), "int main(void) { return 0; }\n", 1);
  const SnapshotPtr before = doc.snapshot();
  const std::string sexp = tree_sexp(before->tree());
  ASSERT_TRUE(doc.apply_bytes(24, 25, "42", 2).ok());
  EXPECT_EQ(before->text(), "int main(void) { return 0; }\n");
  EXPECT_EQ(tree_sexp(before->tree()), sexp);
  EXPECT_EQ(doc.current().text(), "int main(void) { return 42; }\n");
}

// Thousands of random edits, applied incrementally through UTF-16 LSP ranges, give the same
// text as a naive model, the same tree as a fresh parse, and consistent positions.
// With a parse time cap (capped = true) the reparse of many edits is cut short (a 1 us cap) and
// left pending; some edits are made while a parse is pending (the stale tree then carries several
// edits), some after finishing it. The finished tree must equal a fresh parse all the same, and a
// stale snapshot's tree must span the new text.
void random_edits(const char* language_id, const std::string& seed_text, int n_edits, uint32_t seed,
                  bool capped = false) {
  const Language* lang = language_by_id(language_id);
  ASSERT_NE(lang, nullptr);
  Document doc("r", lang, seed_text, 0);
  doc.set_parse_time_cap(std::chrono::microseconds(capped ? 1 : 0));
  int stale_seen = 0;
  std::string model = seed_text;
  std::mt19937 rng(seed);
  const std::vector<std::string> pieces = {"a", "x1", " ", "\t", "\n", "\r\n", "\r", "(", ")", "{", "}", "[", "]", ";",
                                           ":", "\"", "'", "#", "//", "/*", "*/", "if ", "return ", "def ",
                                           "\xC3\xA9", "\xF0\x9F\x98\x80", "\xE2\x82\xAC", "\xff", "    ", "= 1", ","};
  ParserPtr parser(ts_parser_new());
  for (int k = 0; k < n_edits; ++k) {
    const LineIndex li(model);
    const uint32_t size = static_cast<uint32_t>(model.size());
    uint32_t a = size ? rng() % (size + 1) : 0, b = size ? rng() % (size + 1) : 0;
    if (a > b) std::swap(a, b);
    if (b - a > 16) b = a + rng() % 17;
    const PositionEncoding enc = rng() % 2 ? PositionEncoding::utf16 : PositionEncoding::utf8;
    const Position pa = li.position(a, enc), pb = li.position(b, enc);
    std::string ins;
    const int n_ins = static_cast<int>(rng() % 4);
    for (int i = 0; i < n_ins; ++i) ins += pieces[rng() % pieces.size()];
    // model: the same edit in bytes (positions round down to character starts)
    const uint32_t ba = li.offset(pa, enc), bb = li.offset(pb, enc);
    model.replace(ba, bb - ba, sanitize_utf8(ins));
    std::vector<TextChange> ch{{Range{pa, pb}, ins}};
    ASSERT_TRUE(doc.apply(ch, enc, k + 1).ok());
    ASSERT_EQ(doc.current().text(), model) << "edit " << k;
    ASSERT_EQ(doc.parse_pending(), doc.current().tree_stale());
    if (doc.current().tree_stale()) {
      ++stale_seen;
      const ByteSpan u = *doc.current().unparsed();
      ASSERT_LE(u.start, u.end);
      ASSERT_LE(u.end, model.size());
      ASSERT_LE(u.start, ba);  // the edit is inside the unparsed bytes
      ASSERT_GE(u.end, ba + sanitize_utf8(ins).size());
      if (doc.current().tree()) {
        ASSERT_EQ(ts_node_end_byte(doc.current().root()), model.size());
      }
    }
    if (capped && rng() % 3 == 0) doc.finish_parse();
    if (k % 5 == 0 || k + 1 == n_edits) {
      doc.finish_parse();
      ASSERT_FALSE(doc.current().tree_stale());
      ASSERT_EQ(doc.current().version(), k + 1);
      TreePtr fresh = parse_text(parser.get(), lang, model, nullptr);
      ASSERT_EQ(tree_sexp(doc.current().tree()), tree_sexp(fresh.get())) << "edit " << k << " text:\n" << model;
      const LineIndex& l2 = doc.current().lines();
      for (int probe = 0; probe < 8; ++probe) {
        const uint32_t byte = model.empty() ? 0 : rng() % (model.size() + 1);
        for (auto e : {PositionEncoding::utf8, PositionEncoding::utf16}) {
          const Position p = l2.position(byte, e);
          ASSERT_EQ(p, naive_position(model, byte, e)) << "byte " << byte;
          const uint32_t back = l2.offset(p, e);
          ASSERT_LE(back, byte);
          ASSERT_EQ(l2.position(back, e), p);
        }
      }
    }
  }
  if (capped) {
    EXPECT_GT(stale_seen, n_edits / 10) << "the cap should cut many reparses short";
  }
}

TEST(Document, RandomEditsPython) {
  random_edits("python",
               "import os\n\nclass Walker:\n    def __init__(self, root):\n        self.root = root\n\n"
               "    def files(self):\n        for d, _, fs in os.walk(self.root):\n            for f in fs:\n"
               "                yield os.path.join(d, f)\n",
               2000, 1);
}
TEST(Document, RandomEditsCpp) {
  random_edits("cpp",
               "#include <vector>\n\nnamespace geo {\nstruct Point { double x, y; };\n\n"
               "double area(const std::vector<Point>& p) {\n  double a = 0;\n  for (size_t i = 0; i < p.size(); ++i) {\n"
               "    const Point& q = p[(i + 1) % p.size()];\n    a += p[i].x * q.y - q.x * p[i].y;\n  }\n"
               "  return a / 2;  // signed\n}\n}  // namespace geo\n",
               2000, 2);
}
std::string repeated(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}
TEST(Document, RandomEditsWithAParseTimeCapPython) {
  random_edits("python",
               repeated("import os\n\nclass Walker:\n    def __init__(self, root):\n        self.root = root\n\n"
               "    def files(self):\n        for d, _, fs in os.walk(self.root):\n            for f in fs:\n"
               "                yield os.path.join(d, f)\n", 8),
               600, 4, true);
}
TEST(Document, RandomEditsWithAParseTimeCapCpp) {
  random_edits("cpp",
               repeated("#include <vector>\n\nnamespace geo {\nstruct Point { double x, y; };\n\n"
               "double area(const std::vector<Point>& p) {\n  double a = 0;\n  for (size_t i = 0; i < p.size(); ++i) {\n"
               "    const Point& q = p[(i + 1) % p.size()];\n    a += p[i].x * q.y - q.x * p[i].y;\n  }\n"
               "  return a / 2;  // signed\n}\n}  // namespace geo\n", 8),
               600, 5, true);
}

// Generated Python in the shape of real code: classes of methods with loops and conditions.
std::string big_python(int n_classes) {
  std::string s = "import os\nimport json\n\n\n";
  for (int c = 0; c < n_classes; ++c) {
    const std::string n = std::to_string(c);
    s += "class Store" + n + ":\n    def __init__(self, root):\n        self.root = root\n        self.items = []\n\n";
    for (int m = 0; m < 5; ++m) {
      const std::string k = std::to_string(m);
      s += "    def load_" + k + "(self, name, limit=10):\n        total = 0\n"
           "        for i, item in enumerate(self.items):\n            if item.name == name and i < limit:\n"
           "                total += len(item.data)\n            elif item.name is None:\n"
           "                self.items.remove(item)\n        with open(os.path.join(self.root, name)) as f:\n"
           "            json.dump({'total': total}, f)\n        return total\n\n";
    }
    s += "\n";
  }
  return s;
}

// A keystroke that breaks the syntax on a large file: with a cap the edit publishes the new text
// with the previous tree moved to the new offsets (stale), keeps the parse pending, restarts it
// on a further edit, and finishes it later to the same tree as a fresh parse.
TEST(Document, CappedReparsePublishesAStaleTreeAndFinishesLater) {
  const Language* py = language_by_id("python");
  const std::string text = big_python(40);
  Document doc("big.py", py, text, 1);  // no cap: the first parse completes
  ASSERT_FALSE(doc.parse_pending());
  ASSERT_FALSE(doc.current().tree_stale());
  doc.set_parse_time_cap(std::chrono::microseconds(1));
  const uint32_t at = static_cast<uint32_t>(text.find("):\n", text.size() / 2) + 2);  // after "def ...):"
  const Position p = doc.current().lines().position(at, PositionEncoding::utf16);
  const std::string before_sexp = tree_sexp(doc.current().tree());
  std::vector<TextChange> ch{{Range{p, p}, "x"}};
  ASSERT_TRUE(doc.apply(ch, PositionEncoding::utf16, 2).ok());
  ASSERT_TRUE(doc.parse_pending());
  const SnapshotPtr stale = doc.snapshot();
  EXPECT_TRUE(stale->tree_stale());
  EXPECT_EQ(stale->version(), 2);
  EXPECT_EQ(stale->text(), text.substr(0, at) + "x" + text.substr(at));
  EXPECT_EQ(stale->unparsed(), (ByteSpan{at, at + 1}));
  ASSERT_NE(stale->tree(), nullptr);
  EXPECT_EQ(tree_sexp(stale->tree()), before_sexp);  // the last complete tree...
  EXPECT_EQ(ts_node_end_byte(stale->root()), stale->text().size());  // ...at the new offsets
  // the last class still starts where its text now is
  const uint32_t last_class = static_cast<uint32_t>(stale->text().rfind("class Store"));
  EXPECT_EQ(ts_node_start_byte(ts_node_named_descendant_for_byte_range(stale->root(), last_class, last_class + 5)),
            last_class);
  // A second keystroke while the parse is pending: the parse restarts on the newest text.
  const Position p2{p.line, p.character + 1};
  std::vector<TextChange> ch2{{Range{p2, p2}, "y"}};
  ASSERT_TRUE(doc.apply(ch2, PositionEncoding::utf16, 3).ok());
  ASSERT_TRUE(doc.parse_pending());
  EXPECT_EQ(doc.current().unparsed(), (ByteSpan{at, at + 2}));
  // The full parse, elsewhere: a newer snapshot is never replaced by an older parse.
  ParserPtr other(ts_parser_new());
  EXPECT_FALSE(doc.install_parse(stale, Document::parse_to_end(other.get(), *stale)));
  EXPECT_TRUE(doc.parse_pending());
  const std::atomic<bool> cancel{true};
  EXPECT_EQ(Document::parse_to_end(other.get(), doc.current(), &cancel), nullptr);  // cancelled
  ASSERT_TRUE(doc.install_parse(doc.snapshot(), Document::parse_to_end(other.get(), doc.current())));
  EXPECT_FALSE(doc.parse_pending());
  const SnapshotPtr fresh = doc.snapshot();
  EXPECT_FALSE(fresh->tree_stale());
  EXPECT_EQ(fresh->version(), 3);
  EXPECT_EQ(fresh->text(), text.substr(0, at) + "xy" + text.substr(at));
  const Snapshot reference("big.py", py, fresh->text(), 3);
  EXPECT_EQ(tree_sexp(fresh->tree()), tree_sexp(reference.tree()));
  EXPECT_TRUE(stale->tree_stale());  // published snapshots never change
  // Without a cap nothing is ever pending.
  doc.set_parse_time_cap(std::chrono::microseconds(0));
  std::vector<TextChange> ch3{{Range{p, p}, "z"}};
  ASSERT_TRUE(doc.apply(ch3, PositionEncoding::utf16, 4).ok());
  EXPECT_FALSE(doc.parse_pending());
  EXPECT_FALSE(doc.current().tree_stale());
  // The first parse is never capped; a full replacement is (no tree until it finishes).
  Document opened("big.py", py, text, 1, std::chrono::microseconds(1));
  EXPECT_FALSE(opened.parse_pending());
  EXPECT_EQ(tree_sexp(opened.current().tree()), before_sexp);
  std::vector<TextChange> whole{{std::nullopt, text + "\n"}};
  ASSERT_TRUE(opened.apply(whole, PositionEncoding::utf16, 2).ok());
  ASSERT_TRUE(opened.parse_pending());
  EXPECT_EQ(opened.current().tree(), nullptr);
  EXPECT_EQ(opened.current().unparsed(), (ByteSpan{0, static_cast<uint32_t>(text.size() + 1)}));
  opened.finish_parse();
  EXPECT_FALSE(opened.parse_pending());
  EXPECT_EQ(tree_sexp(opened.current().tree()), before_sexp);
}

// The parse budget (document.h): a parse that runs out gives a version without a tree, marked
// parse_exhausted(), never retried; the next edit parses again from scratch.
TEST(Document, ParseOutOfBudgetGivesNoTreeAndTheNextEditParsesAgain) {
  using std::chrono::microseconds;
  using std::chrono::milliseconds;
  EXPECT_EQ(ParseBudget{}.for_bytes(0), milliseconds(1000));
  EXPECT_EQ(ParseBudget{}.for_bytes(1u << 20), milliseconds(3000));
  EXPECT_EQ(ParseBudget{}.for_bytes(kMaxParsedBytes), milliseconds(33000));
  const Language* py = language_by_id("python");
  const std::string text = big_python(40);
  const ParseBudget none{milliseconds(0), microseconds(0)};
  Document doc("big.py", py, text, 1, microseconds(0), none);
  EXPECT_EQ(doc.current().tree(), nullptr);
  EXPECT_TRUE(doc.current().parse_exhausted());
  EXPECT_FALSE(doc.parse_pending());
  EXPECT_EQ(doc.current().text(), text);
  doc.finish_parse();  // nothing pending: no retry
  EXPECT_TRUE(doc.current().parse_exhausted());

  doc.set_parse_budget(ParseBudget{});
  ASSERT_TRUE(doc.apply_bytes(0, 0, "# x\n", 2).ok());
  ASSERT_NE(doc.current().tree(), nullptr);
  EXPECT_FALSE(doc.current().parse_exhausted());
  const Snapshot reference("big.py", py, "# x\n" + text, 2);
  EXPECT_EQ(tree_sexp(doc.current().tree()), tree_sexp(reference.tree()));

  // Cut by the cap, then out of budget when finished: given up, not pending.
  doc.set_parse_time_cap(microseconds(1));
  ASSERT_TRUE(doc.apply_bytes(0, 0, "x", 3).ok());
  ASSERT_TRUE(doc.parse_pending());
  doc.set_parse_budget(none);
  doc.finish_parse();
  EXPECT_FALSE(doc.parse_pending());
  EXPECT_TRUE(doc.current().parse_exhausted());
  EXPECT_EQ(doc.current().version(), 3);
  // Without a tree the next capped edit has nothing to reuse: all of the text is unparsed.
  doc.set_parse_budget(ParseBudget{});
  ASSERT_TRUE(doc.apply_bytes(0, 1, "", 4).ok());
  ASSERT_TRUE(doc.parse_pending());
  EXPECT_EQ(doc.current().tree(), nullptr);
  EXPECT_EQ(doc.current().unparsed(), (ByteSpan{0, static_cast<uint32_t>(doc.current().text().size())}));
  doc.finish_parse();
  EXPECT_EQ(tree_sexp(doc.current().tree()), tree_sexp(reference.tree()));
}

TEST(Document, RandomEditsTypeScript) {
  random_edits("typescriptreact",
               "import { useState } from 'react';\n\nexport function Counter({ start }: { start: number }) {\n"
               "  const [n, setN] = useState(start);\n  return <button onClick={() => setN(n + 1)}>{n}</button>;\n}\n",
               1000, 3);
}

}  // namespace
}  // namespace rapide::context
