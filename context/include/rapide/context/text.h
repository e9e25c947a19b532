// Text positions: byte offsets, (line, UTF-16 column) as LSP sends them by default, and
// (line, UTF-8 column) when the client negotiated utf-8.
//
// Lines end at "\n", "\r\n" or a lone "\r" (the LSP rule). Columns count code units of the
// chosen encoding from the start of the line; an astral-plane character (4 UTF-8 bytes) is two
// UTF-16 units. Out-of-range positions are clamped the LSP way: a column past the end of its
// line means the end of the line, a line past the last means the end of the text; a column that
// falls inside a character (the middle of a surrogate pair, or of a UTF-8 sequence) rounds down
// to the character's start. Texts given to LineIndex must be valid UTF-8: run sanitize_utf8 on
// anything that comes from outside (Document does).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rapide::context {

enum class PositionEncoding { utf8, utf16 };

struct Position {
  uint32_t line = 0;       // 0-based
  uint32_t character = 0;  // 0-based, in code units of the encoding in use
  friend bool operator==(const Position&, const Position&) = default;
};

struct Range {
  Position start;
  Position end;
  friend bool operator==(const Range&, const Range&) = default;
};

// tree-sitter's point: row counts "\n" only, column is in bytes.
struct ByteRowColumn {
  uint32_t row = 0;
  uint32_t column = 0;
};

// Returns text with every invalid UTF-8 sequence (bad lead byte, truncated sequence, overlong
// form, surrogate code point, > U+10FFFF) replaced by U+FFFD, one per maximal invalid subpart
// (the WHATWG / Unicode "best practice"). NUL bytes are kept. *replaced (optional) receives the
// number of replacements. Never fails.
std::string sanitize_utf8(std::string_view text, size_t* replaced = nullptr);

// True when text is valid UTF-8.
bool is_valid_utf8(std::string_view text);

// Line table over a text. Holds a view: the text must outlive the index and stay unchanged.
// Building is O(size); lookups are O(log lines) plus the length of one line.
class LineIndex {
 public:
  LineIndex() = default;
  explicit LineIndex(std::string_view text);

  std::string_view text() const { return text_; }
  uint32_t line_count() const { return static_cast<uint32_t>(starts_.size()); }  // >= 1
  uint32_t line_start(uint32_t line) const;  // byte offset of the line's first byte
  uint32_t line_end(uint32_t line) const;    // byte offset of its terminator (or the text end)
  std::string_view line_text(uint32_t line) const;  // without terminator
  uint32_t line_of(uint32_t byte) const;     // the line holding byte (clamped to the text)

  // Byte offset of a position, clamped as described above.
  uint32_t offset(Position p, PositionEncoding enc) const;
  // True when the position names an existing place exactly (no clamping needed).
  bool exact(Position p, PositionEncoding enc) const;
  // Position of a byte offset (clamped to the text, rounded down to a character start).
  Position position(uint32_t byte, PositionEncoding enc) const;
  // tree-sitter point of a byte offset.
  ByteRowColumn point(uint32_t byte) const;
  // A byte offset made a valid cursor: clamped to the text, rounded down to a character start,
  // and, when it falls inside a line terminator (between the "\r" and "\n" of a CRLF), moved
  // to the end of its line (before the "\r"), as LSP clamps a position inside a terminator.
  // Offsets right after a lone "\r" or a "\n" start the next line and stay where they are.
  uint32_t clamp(uint32_t byte) const;

 private:
  std::string_view text_;
  std::vector<uint32_t> starts_{0};
  bool has_lone_cr_ = false;
};

}  // namespace rapide::context
