// libFuzzer target for documents: random incremental edits (LSP ranges in UTF-16 or UTF-8
// columns, byte edits, whole-text replacements) applied to a Document of a random language,
// checked against a reference model written here:
//   - the document's text equals the reference text after every edit (ranges resolved with
//     the LSP rules: "\n", "\r\n", lone "\r" end lines; columns past the end clamp to the line
//     end; a line past the last means the end of the text; a column inside a character rounds
//     down to its start; an inverted range is rejected and changes nothing);
//   - LineIndex offset()/position()/exact() agree with the reference conversion, and
//     position() -> offset() round-trips to the character start;
//   - the incrementally reparsed tree equals a fresh parse of the same text whenever the fresh
//     parse has no syntax error (tree-sitter's own fuzzing invariant);
//   - every parse ends within its budget (kParseBudget, small so that texts on which a grammar
//     never finishes, like tree-sitter-typescript #323's, cost 0.25 s and not the 10 s libFuzzer
//     timeout); a version whose parse ran out has no tree and is left out of the comparison.
#include "fuzz_input.h"

#include "rapide/context/document.h"
#include "rapide/context/languages.h"
#include "rapide/context/text.h"

#include <tree_sitter/api.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace rapide::context;
using rapide::fuzz::ByteReader;

const ParseBudget kParseBudget{std::chrono::milliseconds(250), std::chrono::microseconds(2000000)};

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "document_edit_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

// Reference line table (independent of LineIndex).
struct RefLines {
  std::vector<uint32_t> starts{0}, ends;
  explicit RefLines(const std::string& t) {
    for (uint32_t i = 0; i < t.size(); ++i) {
      if (t[i] == '\n' || t[i] == '\r') {
        ends.push_back(i);
        if (t[i] == '\r' && i + 1 < t.size() && t[i + 1] == '\n') ++i;
        starts.push_back(i + 1);
      }
    }
    ends.push_back(static_cast<uint32_t>(t.size()));
  }
};

uint32_t char_len(unsigned char lead) { return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4; }

// Offset of a position; *clamped says whether the position had to be adjusted.
uint32_t ref_offset(const std::string& t, Position p, PositionEncoding enc, bool* clamped) {
  RefLines lines(t);
  if (p.line >= lines.starts.size()) {
    *clamped = true;
    return static_cast<uint32_t>(t.size());
  }
  uint32_t b = lines.starts[p.line], end = lines.ends[p.line], units = 0;
  while (b < end) {
    uint32_t n = char_len(static_cast<unsigned char>(t[b]));
    uint32_t w = enc == PositionEncoding::utf8 ? n : (n == 4 ? 2 : 1);
    if (units == p.character) {
      *clamped = false;
      return b;
    }
    if (units + w > p.character) {  // inside the character
      *clamped = true;
      return b;
    }
    units += w;
    b += n;
  }
  *clamped = units != p.character;
  return end;
}

std::string tree_string(const TSTree* tree) {
  if (tree == nullptr) return "(no tree)";
  char* s = ts_node_string(ts_tree_root_node(tree));
  std::string out(s);
  std::free(s);
  return out;
}

Position read_position(ByteReader& in, const std::string& text) {
  RefLines lines(text);
  Position p;
  uint8_t mode = in.u8();
  p.line = (mode & 0x80) ? in.u16() : in.u8() % (static_cast<uint32_t>(lines.starts.size()) + 1);
  p.character = (mode & 0x40) ? in.u16() : in.u8() % 24;
  return p;
}

void check_positions(const Snapshot& s, ByteReader& in) {
  const std::string& t = s.text();
  const LineIndex& li = s.lines();
  for (int k = 0; k < 4; ++k) {
    PositionEncoding enc = (in.u8() & 1) ? PositionEncoding::utf8 : PositionEncoding::utf16;
    Position p = read_position(in, t);
    bool clamped = false;
    uint32_t want = ref_offset(t, p, enc, &clamped);
    uint32_t got = li.offset(p, enc);
    if (got != want)
      fail("LineIndex::offset differs from the reference",
           "line " + std::to_string(p.line) + " char " + std::to_string(p.character) + ": got " + std::to_string(got) +
               " want " + std::to_string(want));
    if (li.exact(p, enc) == clamped) fail("LineIndex::exact disagrees", std::to_string(p.line) + ":" + std::to_string(p.character));
    uint32_t b = t.empty() ? 0 : in.u16() % (static_cast<uint32_t>(t.size()) + 1);
    uint32_t start = b;
    while (start > 0 && start < t.size() && (static_cast<unsigned char>(t[start]) & 0xC0) == 0x80) --start;
    Position q = li.position(b, enc);
    uint32_t back = li.offset(q, enc);
    // A byte between "\r" and "\n" has no position of its own: it maps to the line end.
    bool inside_crlf = start > 0 && start < t.size() && t[start] == '\n' && t[start - 1] == '\r';
    if (back != start && !(inside_crlf && back == start - 1))
      fail("position() -> offset() does not round-trip",
           "byte " + std::to_string(b) + " -> " + std::to_string(q.line) + ":" + std::to_string(q.character) + " -> " +
               std::to_string(back));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteReader in(data, size);
  auto langs = languages();
  uint8_t pick = in.u8();
  const Language* lang = pick % 8 == 7 ? nullptr : &langs[pick % langs.size()];
  std::string reference = rapide::fuzz::code_text(in, in.u8());
  Document doc("fuzz/file", lang, reference, 1, std::chrono::microseconds(0), kParseBudget);
  if (doc.current().text() != reference) fail("initial text changed", reference);

  int64_t version = 1;
  int edits = in.u8() % 24;
  for (int e = 0; e < edits && !in.empty(); ++e) {
    ++version;
    uint8_t kind = in.u8();
    std::string insert = (kind & 0x10) ? sanitize_utf8(in.bytes(in.u8() % 8)) : rapide::fuzz::code_text(in, in.u8() % 12);
    std::string before = reference;
    if (kind % 8 == 0) {  // whole text
      TextChange change{std::nullopt, insert};
      if (!doc.apply({&change, 1}, PositionEncoding::utf16, version).ok()) fail("full replacement rejected", insert);
      reference = insert;
    } else if (kind % 8 == 1) {  // byte edit
      uint32_t a = reference.empty() ? 0 : in.u16() % (static_cast<uint32_t>(reference.size()) + 4);
      uint32_t b = a + in.u8() % 16;
      if (!doc.apply_bytes(a, b, insert, version).ok()) fail("byte edit rejected", std::to_string(a));
      auto round = [&](uint32_t x) {
        x = std::min<uint32_t>(x, static_cast<uint32_t>(reference.size()));
        while (x > 0 && x < reference.size() && (static_cast<unsigned char>(reference[x]) & 0xC0) == 0x80) --x;
        return x;
      };
      uint32_t s = round(a), t = round(b);
      reference.replace(s, t - s, insert);
    } else {  // LSP range edit
      PositionEncoding enc = (kind & 0x20) ? PositionEncoding::utf8 : PositionEncoding::utf16;
      Range r{read_position(in, reference), read_position(in, reference)};
      bool c1 = false, c2 = false;
      uint32_t s = ref_offset(reference, r.start, enc, &c1), t = ref_offset(reference, r.end, enc, &c2);
      TextChange change{r, insert};
      bool ok = doc.apply({&change, 1}, enc, version).ok();
      bool inverted_positions = r.end.line < r.start.line || (r.end.line == r.start.line && r.end.character < r.start.character);
      if (t < s) {
        if (ok) fail("inverted range accepted", std::to_string(s) + ".." + std::to_string(t));
      } else if (!ok && !inverted_positions) {
        fail("valid range rejected", std::to_string(s) + ".." + std::to_string(t));
      } else if (ok) {
        reference.replace(s, t - s, insert);
      }
    }
    const Snapshot& snap = doc.current();
    if (snap.text() != reference) fail("document text differs from the reference", "before:\n" + before + "\nwant:\n" + reference + "\ngot:\n" + snap.text());
    check_positions(snap, in);
    if (lang != nullptr) {
      Snapshot fresh("fuzz/file", lang, reference, version, kParseBudget);
      if (snap.tree() == nullptr && !snap.parse_exhausted() && reference.size() <= kMaxParsedBytes)
        fail("a parsed language gave no tree without running out of budget", reference);
      if (fresh.tree() != nullptr && !fresh.has_parse_errors() && !snap.parse_exhausted()) {
        std::string a = tree_string(snap.tree()), b = tree_string(fresh.tree());
        if (a != b) fail("incremental tree differs from a fresh parse", "text:\n" + reference + "\nincremental: " + a + "\nfresh: " + b);
      }
    }
  }
  return 0;
}
