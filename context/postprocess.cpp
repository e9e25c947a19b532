#include "rapide/context/postprocess.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace rapide::context {
namespace {

int indent_width(std::string_view line) {
  int w = 0;
  for (char c : line) {
    if (c == ' ')
      ++w;
    else if (c == '\t')
      w = (w / 4 + 1) * 4;  // tabs to the next multiple of 4 (consistent within one file)
    else
      break;
  }
  return w;
}

bool blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

std::string_view trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
  return s.substr(b, e - b);
}

std::vector<std::string_view> split_lines(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  for (;;) {
    const size_t e = s.find('\n', i);
    out.push_back(s.substr(i, e == std::string_view::npos ? std::string_view::npos : e - i));
    if (e == std::string_view::npos) break;
    i = e + 1;
  }
  return out;
}

// ERROR and MISSING nodes of a tree (descends only where has_error says there are some).
size_t count_errors(TSNode n) {
  if (ts_node_is_null(n) || !ts_node_has_error(n)) return 0;
  size_t c = (ts_node_is_error(n) || ts_node_is_missing(n)) ? 1 : 0;
  const uint32_t k = ts_node_child_count(n);
  for (uint32_t i = 0; i < k; ++i) c += count_errors(ts_node_child(n, i));
  return c;
}

}  // namespace

StreamingStopper::StreamingStopper(const Snapshot& doc, uint32_t cursor_byte, const PostprocessOptions& options)
    : max_lines_(std::max<uint32_t>(1, options.max_lines)) {
  const LineIndex& lines = doc.lines();
  cursor_byte = lines.clamp(cursor_byte);
  const uint32_t line = lines.line_of(cursor_byte);
  const std::string_view lt = lines.line_text(line);
  const uint32_t col = std::min<uint32_t>(cursor_byte - lines.line_start(line), static_cast<uint32_t>(lt.size()));
  single_line_ = !blank(lt.substr(col));
  indentation_language_ = doc.language() && doc.language()->indentation_scoped;
  const std::string_view before = lt.substr(0, col);
  // Inside the indentation of a blank line the cursor column is the indentation.
  cursor_indent_ = blank(before) ? indent_width(before) : indent_width(lt);
  // Brackets left open before the cursor (scanning up to 200 lines back, skipping string
  // literals and line comments), minus those the rest of the cursor line closes.
  const std::string_view text = doc.text();
  const std::string_view comment = doc.language() ? doc.language()->line_comment : std::string_view();
  const uint32_t from = lines.line_start(line > 200 ? line - 200 : 0);
  char quote = 0;
  for (uint32_t i = from; i < cursor_byte; ++i) {
    const char c = text[i];
    if (c == '\n') quote = quote == '`' ? quote : 0;
    if (quote) {
      if (c == '\\') ++i;
      else if (c == quote) quote = 0;
      continue;
    }
    if (c == '"' || c == '`' || (c == '\'' && !(i > 0 && std::isalnum(static_cast<unsigned char>(text[i - 1]))))) {
      quote = c;
    } else if (!comment.empty() && text.substr(i, comment.size()) == comment) {
      while (i < cursor_byte && text[i] != '\n') ++i;
    } else if (c == '(' || c == '[' || c == '{') {
      pending_ += c;
    } else if ((c == ')' || c == ']' || c == '}') && !pending_.empty()) {
      pending_.pop_back();
    }
  }
  int depth = 0;
  for (char c : lt.substr(col)) {
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') {
      if (depth > 0) --depth;
      else if (!pending_.empty()) pending_.pop_back();
    }
  }
  initial_pending_ = pending_;
}



bool StreamingStopper::feed(std::string_view generated) {
  if (stop_) return true;
  size_t i = consumed_.size();
  if (generated.size() < i || generated.substr(0, i) != consumed_) {
    // not an extension of what we saw: restart from scratch
    consumed_.clear();
    line_start_ = 0;
    lines_ = 0;
    depth_ = 0;
    first_line_ = true;
    in_string_ = 0;
    pending_ = initial_pending_;
    keep_ = 0;
    i = 0;
  }
  consumed_.assign(generated);
  auto stop_at = [&](size_t at, const char* why) {
    stop_ = true;
    keep_ = at;
    reason_ = why;
    return true;
  };
  for (; i < consumed_.size(); ++i) {
    const char c = consumed_[i];
    if (c == '\n') {
      if (single_line_) return stop_at(i, "single line");
      ++lines_;
      if (lines_ >= max_lines_) return stop_at(i, "max lines");
      line_start_ = i + 1;
      first_line_ = false;
      in_string_ = 0;
      continue;
    }
    // First non-blank character of a line after the first: dedent / block-end rules.
    if (!first_line_ && c != ' ' && c != '\t' && c != '\r' && blank(std::string_view(consumed_).substr(line_start_, i - line_start_))) {
      const int ind = indent_width(std::string_view(consumed_).substr(line_start_, i - line_start_));
      if (indentation_language_ && ind < cursor_indent_) return stop_at(line_start_ > 0 ? line_start_ - 1 : 0, "dedent");
      if (!indentation_language_ && (c == '}' || c == ')' || c == ']') && depth_ == 0 && ind < cursor_indent_)
        return stop_at(line_start_ > 0 ? line_start_ - 1 : 0, "block end");
    }
    if (in_string_) {
      if (c == '\\') {
        ++i;
        continue;
      }
      if (c == in_string_) in_string_ = 0;
      continue;
    }
    if (c == '"' || c == '\'' || c == '`') {
      // an apostrophe inside a word (Rust lifetimes, English) is not a string
      if (c == '\'' && i > 0 && (std::isalnum(static_cast<unsigned char>(consumed_[i - 1])) || consumed_[i - 1] == '&'))
        continue;
      in_string_ = c;
      continue;
    }
    if (c == '(' || c == '[' || c == '{') {
      ++depth_;
    } else if (c == ')' || c == ']' || c == '}') {
      if (depth_ == 0) {
        const char open = c == ')' ? '(' : c == ']' ? '[' : '{';
        if (!pending_.empty() && pending_.back() == open) {  // closes what the cursor line left open
          pending_.pop_back();
          continue;
        }
        // Closes something the suffix closes already: the completion ends here.
        size_t at = i;
        while (at > line_start_ && (consumed_[at - 1] == ' ' || consumed_[at - 1] == '\t')) --at;
        if (at == line_start_ && line_start_ > 0) at = line_start_ - 1;  // drop the whole line
        return stop_at(at, c == '}' ? "block end" : "unbalanced bracket");
      }
      --depth_;
    }
  }
  keep_ = consumed_.size();
  return false;
}

ProcessedCompletion postprocess_completion(const Snapshot& doc, uint32_t cursor_byte, std::string_view completion,
                                           const PostprocessOptions& options) {
  ProcessedCompletion out;
  const std::string& text = doc.text();
  cursor_byte = doc.lines().clamp(cursor_byte);  // character start, never inside a CRLF
  std::string c = sanitize_utf8(completion);
  // CRLF documents: the model may produce either; compare and splice with "\n" then restore.
  c.erase(std::remove(c.begin(), c.end(), '\r'), c.end());

  // 1-2, 4. line-based rules.
  StreamingStopper stopper(doc, cursor_byte, options);
  stopper.feed(c);
  if (stopper.should_stop()) {
    c.resize(stopper.keep_bytes());
    out.stop_reason = stopper.reason();
  }
  // trailing blank lines / spaces carry nothing
  while (!c.empty() && (c.back() == ' ' || c.back() == '\t' || c.back() == '\n')) c.pop_back();

  // 3. suffix overlap.
  const LineIndex& lines = doc.lines();
  const uint32_t line = lines.line_of(cursor_byte);
  const std::string_view rest_of_line = std::string_view(text).substr(cursor_byte, lines.line_end(line) - cursor_byte);
  {
    const std::string_view rl = trim(rest_of_line);
    // The completion's last line ends with what follows the cursor on its line ("foo(x" + ")").
    if (!rl.empty()) {
      for (size_t k = std::min(rl.size(), c.size()); k > 0; --k) {
        if (std::string_view(c).substr(c.size() - k) == rl.substr(0, k) && k == rl.size()) {
          c.resize(c.size() - k);
          out.stop_reason = "suffix overlap";
          break;
        }
      }
    }
    // Trailing completion lines repeating the lines after the cursor line.
    std::vector<std::string_view> next;
    for (uint32_t l = line + 1; l < lines.line_count() && next.size() < 8; ++l) {
      const std::string_view t = trim(lines.line_text(l));
      if (!t.empty()) next.push_back(t);
    }
    std::vector<std::string_view> cl = split_lines(c);
    size_t drop_from = cl.size();
    for (size_t start = 1; start < cl.size(); ++start) {
      // lines cl[start..] match next[0..] (ignoring blank completion lines)
      size_t j = 0;
      bool ok = true, any = false;
      for (size_t k = start; k < cl.size(); ++k) {
        const std::string_view t = trim(cl[k]);
        if (t.empty()) continue;
        if (j >= next.size() || t != next[j]) {
          ok = false;
          break;
        }
        ++j;
        any = true;
      }
      if (ok && any) {
        drop_from = start;
        break;
      }
    }
    if (drop_from < cl.size()) {
      size_t bytes = 0;
      for (size_t k = 0; k < drop_from; ++k) bytes += cl[k].size() + 1;
      c.resize(bytes > 0 ? bytes - 1 : 0);
      while (!c.empty() && (c.back() == ' ' || c.back() == '\t' || c.back() == '\n')) c.pop_back();
      out.stop_reason = "suffix overlap";
    }
  }

  // 5. parse check.
  if (options.check_parse && doc.tree() && !doc.tree_stale() && doc.language() && !c.empty()) {
    out.parse_checked = true;
    const bool crlf = lines.line_count() > 1 && lines.line_end(0) + 1 < text.size() && text[lines.line_end(0)] == '\r';
    const size_t base = count_errors(doc.root());
    ParserPtr parser(ts_parser_new());
    bool exhausted = !ts_parser_set_language(parser.get(), doc.language()->grammar());
    // The budget, counted in tree-sitter progress checks (one per 100 parser operations), is
    // shared by all the reparses of the check: deterministic, unlike a clock.
    struct Budget {
      uint64_t left;
      static bool spent(TSParseState* state) {
        Budget* b = static_cast<Budget*>(state->payload);
        if (b->left == 0) return true;
        --b->left;
        return false;
      }
    } budget{options.parse_check_budget};
    auto errors_with = [&](std::string_view piece) {
      if (exhausted) return base;
      std::string insert(piece);
      if (crlf) {
        std::string t;
        for (char ch : insert) {
          if (ch == '\n') t += '\r';
          t += ch;
        }
        insert = std::move(t);
      }
      TreePtr tree = doc.copy_tree();
      const ByteRowColumn p = lines.point(cursor_byte);
      TSPoint end{p.row, p.column};
      for (char ch : insert) {
        if (ch == '\n') {
          ++end.row;
          end.column = 0;
        } else {
          ++end.column;
        }
      }
      TSInputEdit e{cursor_byte, cursor_byte, cursor_byte + static_cast<uint32_t>(insert.size()), {p.row, p.column},
                    {p.row, p.column}, end};
      ts_tree_edit(tree.get(), &e);
      std::string spliced = text.substr(0, cursor_byte) + insert + text.substr(cursor_byte);
      if (spliced.size() > kMaxParsedBytes) {
        exhausted = true;
        return base;
      }
      struct Input {
        const std::string* s;
        static const char* read(void* payload, uint32_t byte, TSPoint, uint32_t* n) {
          const std::string& t = *static_cast<Input*>(payload)->s;
          *n = byte < t.size() ? static_cast<uint32_t>(t.size()) - byte : 0;
          return byte < t.size() ? t.data() + byte : "";
        }
      } input_state{&spliced};
      const TSInput input{&input_state, &Input::read, TSInputEncodingUTF8, nullptr};
      TreePtr next(ts_parser_parse_with_options(parser.get(), tree.get(), input, TSParseOptions{&budget, &Budget::spent}));
      if (!next) {  // the budget ran out: no verdict
        ts_parser_reset(parser.get());
        exhausted = true;
        return base;
      }
      return count_errors(ts_tree_root_node(next.get()));
    };
    const size_t full = errors_with(c);
    if (exhausted) out.parse_checked = false;  // no verdict within the budget: keep c
    if (full > 0 && !exhausted) {
      // Candidate cuts, longest first: line ends, then word/punctuation boundaries of the first
      // line. Keep the longest candidate with the fewest errors; nothing when even that adds
      // errors to the document.
      std::vector<size_t> cuts;
      for (size_t i = c.size(); i-- > 0;)
        if (c[i] == '\n' && cuts.size() < 12) cuts.push_back(i);
      const size_t first_nl = c.find('\n');
      const size_t first_end = first_nl == std::string::npos ? c.size() : first_nl;
      for (size_t i = first_end; i-- > 1 && cuts.size() < 24;)
        if (c[i] == ' ' || std::ispunct(static_cast<unsigned char>(c[i]))) cuts.push_back(i);
      std::string best = c;
      size_t best_errors = full;
      for (size_t cut : cuts) {
        std::string_view cand = std::string_view(c).substr(0, cut);
        while (!cand.empty() && (cand.back() == ' ' || cand.back() == '\n' || cand.back() == '\t')) cand.remove_suffix(1);
        if (cand.empty() || cand.size() >= best.size()) continue;
        const size_t e = errors_with(cand);
        if (e < best_errors) {
          best = std::string(cand);
          best_errors = e;
          if (e == 0) break;
        }
      }
      if (exhausted) {
        // No verdict within the budget: keep the completion as the line rules left it.
        out.parse_checked = false;
      } else if (best_errors > base) {
        c.clear();
        out.stop_reason = "parse errors";
      } else if (best != c) {
        c = std::move(best);
        out.stop_reason = "parse errors";
      }
    }
  }
  out.text = std::move(c);
  return out;
}

}  // namespace rapide::context
