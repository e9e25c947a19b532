// Pre-tokenizer rules. The regex texts are llama.cpp's (src/llama-vocab.cpp, per pre-tokenizer
// type), used as facts; the matchers are ours. See pre_tokenizer.h for the scheme.
#include "tokenizer/pre_tokenizer.h"

#include "tokenizer/unicode.h"

#define PCRE2_CODE_UNIT_WIDTH 0
#include <pcre2.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace rapide::inference::tok {

namespace {

// Per-code-point flags for one split() call: category (low byte), white space (bit 8).
constexpr std::uint16_t F_WS = 0x100;

struct SplitContext {
  const std::vector<std::uint32_t>& cps;
  std::vector<std::uint16_t> flags;
  std::string collapsed;               // one byte per code point, for collapsed regexes
  std::vector<std::uint32_t> wide;     // code points with non-ASCII white space as \v
  bool have_collapsed = false;
  bool have_wide = false;

  explicit SplitContext(const std::vector<std::uint32_t>& c) : cps(c) {
    flags.resize(cps.size());
    for (std::size_t i = 0; i < cps.size(); ++i) {
      const CpInfo info = cp_info(cps[i]);
      flags[i] = static_cast<std::uint16_t>(info.category | (info.whitespace ? F_WS : 0));
    }
  }

  // llama.cpp's collapsed text: ASCII as is; other code points by category into one byte
  // (0xD1 number, 0xD2 letter, 0xD3 punctuation, 0xD4 mark, 0xD5 symbol, 0xD0 other), with
  // white space first mapped to \v.
  const std::string& collapsed_text() {
    if (!have_collapsed) {
      collapsed.resize(cps.size());
      for (std::size_t i = 0; i < cps.size(); ++i) {
        const std::uint32_t cp = cps[i];
        char c;
        if (cp < 128) {
          c = static_cast<char>(cp);
        } else if (flags[i] & F_WS) {
          c = '\x0B';
        } else {
          switch (flags[i] & 0xFF) {
            case CP_NUMBER: c = '\xD1'; break;
            case CP_LETTER: c = '\xD2'; break;
            case CP_PUNCTUATION: c = '\xD3'; break;
            case CP_MARK: c = '\xD4'; break;
            case CP_SYMBOL: c = '\xD5'; break;
            default: c = '\xD0'; break;
          }
        }
        collapsed[i] = c;
      }
      have_collapsed = true;
    }
    return collapsed;
  }

  const std::vector<std::uint32_t>& wide_text() {
    if (!have_wide) {
      wide = cps;
      for (std::size_t i = 0; i < wide.size(); ++i)
        if (wide[i] > 0x7F && (flags[i] & F_WS)) wide[i] = 0x0B;
      have_wide = true;
    }
    return wide;
  }
};

enum class RuleKind { GPT2, LLAMA3, NEWLINES, REGEX_COLLAPSED, REGEX_WIDE };

}  // namespace

struct PreTokenizer::Rule {
  RuleKind kind = RuleKind::GPT2;
  int max_digits = 3;                    // LLAMA3: \p{N}{1,max_digits}
  std::uint16_t word_mask = CP_LETTER;   // LLAMA3: letters (qwen35 adds marks)
  pcre2_code_8* code8 = nullptr;
  pcre2_code_32* code32 = nullptr;

  Rule() = default;
  Rule(const Rule&) = delete;
  Rule& operator=(const Rule&) = delete;
  ~Rule() {
    if (code8) pcre2_code_free_8(code8);
    if (code32) pcre2_code_free_32(code32);
  }
};

namespace {

constexpr std::uint32_t OUT_OF_RANGE = 0xFFFFFFFF;

class Emitter {
 public:
  Emitter(std::size_t ini, std::vector<std::uint32_t>& out) : prev_(ini), out_(out) {}
  std::size_t add(std::size_t end) {
    const std::size_t len = end - prev_;
    if (len > 0) out_.push_back(static_cast<std::uint32_t>(len));
    prev_ = end;
    return len;
  }

 private:
  std::size_t prev_;
  std::vector<std::uint32_t>& out_;
};

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
void split_gpt2(const SplitContext& ctx, std::size_t ini, std::size_t end, std::vector<std::uint32_t>& out) {
  const auto& cps = ctx.cps;
  const auto& flags = ctx.flags;
  auto fl = [&](std::size_t p) -> std::uint16_t { return p < end ? flags[p] : 0; };
  constexpr std::uint16_t WLN = F_WS | CP_LETTER | CP_NUMBER;
  Emitter em(ini, out);
  for (std::size_t pos = ini; pos < end;) {
    const std::uint32_t c = cps[pos];
    const std::uint16_t f = flags[pos];
    if (c == '\'' && pos + 1 < end) {
      const std::uint32_t n = cps[pos + 1];
      if (n == 's' || n == 't' || n == 'm' || n == 'd') {
        pos += em.add(pos + 2);
        continue;
      }
      if (pos + 2 < end) {
        const std::uint32_t n2 = cps[pos + 2];
        if ((n == 'r' && n2 == 'e') || (n == 'v' && n2 == 'e') || (n == 'l' && n2 == 'l')) {
          pos += em.add(pos + 3);
          continue;
        }
      }
    }
    std::uint16_t f2 = c == ' ' ? fl(pos + 1) : f;
    if (f2 & CP_LETTER) {
      pos += (c == ' ');
      while (f2 & CP_LETTER) f2 = fl(++pos);
      em.add(pos);
      continue;
    }
    if (f2 & CP_NUMBER) {
      pos += (c == ' ');
      while (f2 & CP_NUMBER) f2 = fl(++pos);
      em.add(pos);
      continue;
    }
    if (!(f2 & WLN) && f2) {
      pos += (c == ' ');
      while (!(f2 & WLN) && f2) f2 = fl(++pos);
      em.add(pos);
      continue;
    }
    std::size_t nws = 0;
    while (fl(pos + nws) & F_WS) ++nws;
    if (nws > 1 && pos + nws < end) {
      pos += nws - 1;
      em.add(pos);
      continue;
    }
    if (nws > 0) {
      pos += nws;
      em.add(pos);
      continue;
    }
    em.add(++pos);
  }
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?W+|\p{N}{1,D}| ?[^\s W \p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// with W = \p{L} (llama3: D = 3; qwen2: D = 1) or [\p{L}\p{M}] (qwen35, D = 1).
void split_llama3(const SplitContext& ctx, const PreTokenizer::Rule& rule, std::size_t ini, std::size_t end,
                  std::vector<std::uint32_t>& out) {
  const auto& cps = ctx.cps;
  const auto& flags = ctx.flags;
  auto fl = [&](std::size_t p) -> std::uint16_t { return p < end ? flags[p] : 0; };
  auto cpt = [&](std::size_t p) -> std::uint32_t { return p < end ? cps[p] : OUT_OF_RANGE; };
  const std::uint16_t W = rule.word_mask;
  const std::uint16_t WWN = static_cast<std::uint16_t>(F_WS | W | CP_NUMBER);
  Emitter em(ini, out);
  for (std::size_t pos = ini; pos < end;) {
    const std::uint32_t c = cps[pos];
    const std::uint16_t f = flags[pos];
    if (c == '\'' && pos + 1 < end) {
      const std::uint32_t n = cp_to_lower(cps[pos + 1]);
      if (n == 's' || n == 't' || n == 'm' || n == 'd') {
        pos += em.add(pos + 2);
        continue;
      }
      if (pos + 2 < end) {
        const std::uint32_t n2 = cp_to_lower(cps[pos + 2]);
        if ((n == 'r' && n2 == 'e') || (n == 'v' && n2 == 'e') || (n == 'l' && n2 == 'l')) {
          pos += em.add(pos + 3);
          continue;
        }
      }
    }
    if (!(c == '\r' || c == '\n' || (f & CP_NUMBER))) {
      if ((f & W) || (fl(pos + 1) & W)) {
        ++pos;
        while (fl(pos) & W) ++pos;
        em.add(pos);
        continue;
      }
    }
    if (f & CP_NUMBER) {
      if (rule.max_digits == 1) {
        em.add(++pos);
        continue;
      }
      std::size_t run = pos;
      while (fl(pos) & CP_NUMBER) {
        if (++pos - run >= static_cast<std::size_t>(rule.max_digits)) {
          em.add(pos);
          run = pos;
        }
      }
      em.add(pos);
      continue;
    }
    std::uint16_t f2 = c == ' ' ? fl(pos + 1) : f;
    if (!(f2 & WWN) && f) {
      pos += (c == ' ');
      while (!(f2 & WWN) && f2) f2 = fl(++pos);
      std::uint32_t c2 = cpt(pos);
      while (c2 == '\r' || c2 == '\n') c2 = cpt(++pos);
      em.add(pos);
      continue;
    }
    std::size_t nws = 0;
    std::size_t last_rn = 0;
    while (fl(pos + nws) & F_WS) {
      const std::uint32_t c2 = cps[pos + nws];
      if (c2 == '\r' || c2 == '\n') last_rn = pos + nws + 1;
      ++nws;
    }
    if (last_rn > 0) {
      pos = last_rn;
      em.add(pos);
      continue;
    }
    if (nws > 1 && pos + nws < end) {
      pos += nws - 1;
      em.add(pos);
      continue;
    }
    if (nws > 0) {
      pos += nws;
      em.add(pos);
      continue;
    }
    em.add(++pos);
  }
}

// [^\n]+|[\n]+
void split_newlines(const SplitContext& ctx, std::size_t ini, std::size_t end, std::vector<std::uint32_t>& out) {
  std::size_t pos = ini;
  while (pos < end) {
    const bool nl = ctx.cps[pos] == '\n';
    const std::size_t start = pos;
    while (pos < end && (ctx.cps[pos] == '\n') == nl) ++pos;
    out.push_back(static_cast<std::uint32_t>(pos - start));
  }
}

// Splits [ini, end) into regex matches and the text between them, like std::regex_iterator.
template <class MatchFn>
void split_regex(std::size_t ini, std::size_t end, std::vector<std::uint32_t>& out, MatchFn&& match) {
  std::size_t start = 0;  // relative to ini
  const std::size_t len = end - ini;
  std::size_t search = 0;
  while (search <= len) {
    std::size_t m_begin = 0, m_end = 0;
    if (!match(search, m_begin, m_end)) break;
    if (m_end == m_begin) {  // empty match: nothing to split off; move on by one code point
      search = m_begin + 1;
      continue;
    }
    if (m_begin > start) out.push_back(static_cast<std::uint32_t>(m_begin - start));
    out.push_back(static_cast<std::uint32_t>(m_end - m_begin));
    start = m_end;
    search = m_end;
  }
  if (start < len) out.push_back(static_cast<std::uint32_t>(len - start));
}

// Rewrites \p{X} classes for the collapsed text (llama.cpp's scheme). Inside [...] only the class
// contents are inserted; outside, a bracketed class.
std::string collapse_regex(std::string_view re) {
  struct Cat {
    std::string_view name;
    std::string_view body;
  };
  static constexpr Cat k_cats[] = {
      {"\\p{N}", "\\xD10-9"},
      {"\\p{L}", "\\xD2A-Za-z"},
      {"\\p{P}", "\\xD3!-#%-*,-/:;?@\\[-\\]_\\{\\}"},
      {"\\p{M}", "\\xD4"},
      {"\\p{S}", "\\xD5\\$\\+<->\\^`\\|~"},
      {"\\p{Lu}", "\\xD2A-Za-z"},
      {"\\p{Ll}", "\\xD2A-Za-z"},
      {"\\p{Lt}", "\\xD2A-Za-z"},
      {"\\p{Lm}", "\\xD2A-Za-z"},
      {"\\p{Lo}", "\\xD2A-Za-z"},
  };
  std::string out;
  bool inside = false;
  for (std::size_t i = 0; i < re.size(); ++i) {
    const char c = re[i];
    if (c == '\\' && i + 1 < re.size() && re[i + 1] != 'p') {  // keep escapes as they are
      out += c;
      out += re[++i];
      continue;
    }
    if (c == '[' && !inside) {
      inside = true;
      out += c;
      continue;
    }
    if (c == ']' && inside) {
      inside = false;
      out += c;
      continue;
    }
    bool replaced = false;
    for (const Cat& cat : k_cats) {
      if (re.substr(i, cat.name.size()) == cat.name) {
        if (!inside) out += '[';
        out += cat.body;
        if (!inside) out += ']';
        i += cat.name.size() - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced) out += c;
  }
  return out;
}

bool uses_categories(std::string_view re) { return re.find("\\p{") != std::string_view::npos; }

Result<std::unique_ptr<PreTokenizer::Rule>> compile_rule(std::string_view re) {
  auto rule = std::make_unique<PreTokenizer::Rule>();
  int err = 0;
  PCRE2_SIZE err_off = 0;
  const std::uint32_t opts = PCRE2_DOLLAR_ENDONLY;
  if (uses_categories(re)) {
    for (unsigned char c : re)
      if (c >= 0x80) return error("pre-tokenizer regex mixes \\p{} classes and non-ASCII text: ", std::string(re));
    const std::string collapsed = collapse_regex(re);
    rule->kind = RuleKind::REGEX_COLLAPSED;
    rule->code8 = pcre2_compile_8(reinterpret_cast<PCRE2_SPTR8>(collapsed.data()), collapsed.size(), opts, &err,
                                  &err_off, nullptr);
    if (!rule->code8) {
      PCRE2_UCHAR8 msg[256];
      pcre2_get_error_message_8(err, msg, sizeof msg);
      return error("pre-tokenizer regex '", collapsed, "' does not compile at ", err_off, ": ",
                   reinterpret_cast<const char*>(msg));
    }
    pcre2_jit_compile_8(rule->code8, PCRE2_JIT_COMPLETE);  // falls back to the interpreter on failure
  } else {
    std::vector<std::uint32_t> units;
    utf8_decode(re, units);
    rule->kind = RuleKind::REGEX_WIDE;
    rule->code32 = pcre2_compile_32(reinterpret_cast<PCRE2_SPTR32>(units.data()), units.size(), opts, &err,
                                    &err_off, nullptr);
    if (!rule->code32) {
      PCRE2_UCHAR32 msg[256];
      pcre2_get_error_message_32(err, msg, 256);
      std::string m;
      for (PCRE2_UCHAR32 ch : msg) {
        if (!ch) break;
        utf8_append(ch, m);
      }
      return error("pre-tokenizer regex '", std::string(re), "' does not compile at ", err_off, ": ", m);
    }
    pcre2_jit_compile_32(rule->code32, PCRE2_JIT_COMPLETE);
  }
  return rule;
}

// The split rules of one pre-tokenizer type, as llama.cpp lists them.
struct PreSpec {
  std::vector<std::string_view> names;
  std::vector<std::string_view> regexes;
  PreTokenizerOptions options;
};

constexpr std::string_view RE_GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
constexpr std::string_view RE_LLAMA3 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr std::string_view RE_QWEN2 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr std::string_view RE_QWEN35 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| "
    "?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr std::string_view RE_NEWLINES = "[^\\n]+|[\\n]+";
constexpr std::string_view RE_CJK = "[\xe4\xb8\x80-\xe9\xbe\xa5\xe0\xa0\x80-\xe4\xb8\x80\xea\xb0\x80-\xed\x9f\xbf]+";
constexpr std::string_view RE_GPT4O =
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'["
    "lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'["
    "vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const std::vector<PreSpec>& pre_specs() {
  static const std::vector<PreSpec> specs = {
      {{"default"},
       {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"},
       {}},
      {{"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano"},
       {RE_LLAMA3},
       {.ignore_merges = true, .add_bos = true}},
      {{"dbrx", "smaug-bpe"}, {RE_LLAMA3}, {}},
      {{"deepseek-llm"},
       {"[\r\n]",
        "\\s?[A-Za-z\xc2\xb5\xc3\x80-\xc3\x96\xc3\x98-\xc3\xb6\xc3\xb8-\xc6\xba\xc6\xbc-\xc6\xbf\xc7\x84-\xca\x93"
        "\xca\x95-\xca\xaf\xcd\xb0-\xcd\xb3\xcd\xb6\xcd\xb7\xcd\xbb-\xcd\xbd\xcd\xbf\xce\x86\xce\x88-\xce\x8a\xce\x8c"
        "\xce\x8e-\xce\xa1\xce\xa3-\xcf\xb5\xcf\xb7-\xd2\x81\xd2\x8a-\xd4\xaf\xd4\xb1-\xd5\x96\xe1\x82\xa0-\xe1\x83"
        "\x85\xe1\x8e\xa0-\xe1\x8f\xb5\xe1\x8f\xb8-\xe1\x8f\xbd\xe1\xb2\x90-\xe1\xb2\xba\xe1\xb2\xbd-\xe1\xb2\xbf\xe1"
        "\xb4\x80-\xe1\xb4\xab\xe1\xb5\xab-\xe1\xb5\xb7\xe1\xb5\xb9-\xe1\xb6\x9a\xe1\xb8\x80-\xe1\xbc\x95\xe1\xbc\x98-"
        "\xe1\xbc\x9d\xe1\xbc\xa0-\xe1\xbd\x85\xe1\xbd\x88-\xe1\xbd\x8d\xe1\xbd\x90-\xe1\xbd\x97\xe1\xbd\x99\xe1\xbd"
        "\x9b\xe1\xbd\x9d\xe1\xbd\x9f-\xe1\xbd\xbd\xe1\xbe\x80-\xe1\xbe\xb4\xe1\xbe\xb6-\xe1\xbe\xbc\xe1\xbe\xbe\xe1"
        "\xbf\x82-\xe1\xbf\x84\xe1\xbf\x86-\xe1\xbf\x8c\xe1\xbf\x90-\xe1\xbf\x93\xe1\xbf\x96-\xe1\xbf\x9b\xe1\xbf\xa0-"
        "\xe1\xbf\xac\xe1\xbf\xb2-\xe1\xbf\xb4\xe1\xbf\xb6-\xe1\xbf\xbc\xe2\x84\x82\xe2\x84\x87\xe2\x84\x8a-\xe2\x84"
        "\x93\xe2\x84\x95\xe2\x84\x99-\xe2\x84\x9d\xe2\x84\xa4\xe2\x84\xa6\xe2\x84\xa8\xe2\x84\xaa-\xe2\x84\xad\xe2"
        "\x84\xaf-\xe2\x84\xb4\xe2\x84\xb9\xe2\x84\xbc-\xe2\x84\xbf\xe2\x85\x85-\xe2\x85\x89\xe2\x85\x8e\xe2\x86\x83"
        "\xe2\x86\x84\xe2\xb0\x80-\xe2\xb1\xbb\xe2\xb1\xbe-\xe2\xb3\xa4\xe2\xb3\xab-\xe2\xb3\xae\xe2\xb3\xb2\xe2\xb3"
        "\xb3\xea\x99\x80-\xea\x99\xad\xea\x9a\x80-\xea\x9a\x9b\xea\x9c\xa2-\xea\x9d\xaf\xea\x9d\xb1-\xea\x9e\x87\xea"
        "\x9e\x8b-\xea\x9e\x8e\xea\xad\xb0-\xea\xae\xbf\xef\xac\x80-\xef\xac\x86\xef\xac\x93-\xef\xac\x97\xef\xbc\xa1-"
        "\xef\xbc\xba\xef\xbd\x81-\xef\xbd\x9a\xf0\x90\x90\x80-\xf0\x90\x91\x8f\xf0\x90\x92\xb0-\xf0\x90\x93\x93\xf0"
        "\x90\x93\x98-\xf0\x90\x93\xbb\xf0\x90\xb2\x80-\xf0\x90\xb2\xb2\xf0\x90\xb3\x80-\xf0\x90\xb3\xb2\xf0\x91\xa2"
        "\xa0-\xf0\x91\xa3\x9f\xf0\x9e\xa4\x80-\xf0\x9e\xa5\x83]+",
        "\\s?[!-/:-~\xef\xbc\x81-\xef\xbc\x8f\xef\xbc\x9a-\xef\xbd\x9e\xe2\x80\x98-\xe2\x80\x9f\xe3\x80\x80-\xe3\x80"
        "\x82]+",
        "\\s+$", RE_CJK, "\\p{N}+"},
       {}},
      {{"deepseek-coder"}, {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_CJK, "\\p{N}"}, {}},
      {{"deepseek-v3", "hunyuan-dense", "joyai-llm"},
       {"\\p{N}{1,3}", "[\xe4\xb8\x80-\xe9\xbe\xa5\xe3\x81\x80-\xe3\x82\x9f\xe3\x82\xa0-\xe3\x83\xbf]+",
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
        "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"},
       {}},
      {{"falcon"}, {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]"}, {}},
      {{"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b", "mellum2"},
       {"\\p{N}", RE_GPT2},
       {}},
      {{"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum",
        "modern-bert", "mpt", "olmo", "jais", "trillion", "granite-docling", "exaone4", "jina-v1-en", "jina-v2-code",
        "roberta-bpe"},
       {RE_GPT2},
       {}},
      {{"qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "stablelm2", "hunyuan", "solar-open", "megrez", "grok-2"},
       {RE_QWEN2},
       {}},
      {{"qwen35"}, {RE_QWEN35}, {}},
      {{"poro-chat", "bloom", "gpt3-finnish"},
       {" ?[^(\\s|.,!?\xe2\x80\xa6\xe3\x80\x82\xef\xbc\x8c\xe3\x80\x81\xe0\xa5\xa4\xdb\x94\xd8\x8c)]+"},
       {}},
      {{"viking"},
       {" ?[^(\\s|.,!?\xe2\x80\xa6\xe3\x80\x82\xef\xbc\x8c\xe3\x80\x81\xe0\xa5\xa4\xdb\x94\xd8\x8c)]+", "\\p{N}"},
       {}},
      {{"glm4", "chatglm-bpe"}, {RE_LLAMA3}, {}},
      {{"tekken"},
       {"[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-"
        "z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
       {.ignore_merges = true, .add_bos = true}},
      {{"gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"}, {RE_GPT4O}, {}},
      {{"seed-coder"},
       {"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| "
        "?[^\\s\\p{L}\\p{N}\\r\\n]+|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
       {}},
      {{"bailingmoe", "bailingmoe2", "llada-moe"},
       {"'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
        "\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"},
       {}},
      {{"minicpm5"},
       {"\\p{N}{1,3}",
        "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}+| "
        "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
       {.ignore_merges = true, .add_bos = false}},
      {{"laguna"}, {RE_NEWLINES, RE_QWEN2}, {}},
  };
  return specs;
}

}  // namespace

PreTokenizer::~PreTokenizer() = default;

std::vector<std::string> PreTokenizer::known_names() {
  std::vector<std::string> names;
  for (const PreSpec& s : pre_specs())
    for (std::string_view n : s.names) names.emplace_back(n);
  return names;
}

Result<std::shared_ptr<const PreTokenizer>> PreTokenizer::create(std::string_view name) {
  const PreSpec* spec = nullptr;
  for (const PreSpec& s : pre_specs())
    if (std::find(s.names.begin(), s.names.end(), name) != s.names.end()) spec = &s;
  if (!spec) {
    std::string known;
    for (const auto& n : known_names()) known += (known.empty() ? "" : ", ") + n;
    return error("unknown pre-tokenizer tokenizer.ggml.pre = '", std::string(name), "' (known: ", known, ")");
  }
  std::shared_ptr<PreTokenizer> pre(new PreTokenizer());
  pre->name_ = std::string(name);
  pre->options_ = spec->options;
  for (std::string_view re : spec->regexes) {
    auto rule = std::make_unique<Rule>();
    if (re == RE_GPT2) {
      rule->kind = RuleKind::GPT2;
    } else if (re == RE_LLAMA3 || re == RE_QWEN2 || re == RE_QWEN35) {
      rule->kind = RuleKind::LLAMA3;
      rule->max_digits = re == RE_LLAMA3 ? 3 : 1;
      rule->word_mask = static_cast<std::uint16_t>(re == RE_QWEN35 ? (CP_LETTER | CP_MARK) : int{CP_LETTER});
    } else if (re == RE_NEWLINES) {
      rule->kind = RuleKind::NEWLINES;
    } else {
      auto compiled = compile_rule(re);
      if (!compiled) return compiled.error();
      rule = std::move(*compiled);
    }
    pre->rules_.push_back(std::move(rule));
  }
  return std::shared_ptr<const PreTokenizer>(std::move(pre));
}

void PreTokenizer::split(const std::vector<std::uint32_t>& cps, std::vector<std::uint32_t>& lengths) const {
  lengths.clear();
  if (cps.empty()) return;
  SplitContext ctx(cps);
  std::vector<std::uint32_t> pieces{static_cast<std::uint32_t>(cps.size())};
  std::vector<std::uint32_t> next;
  pcre2_match_data_8* md8 = nullptr;
  pcre2_match_data_32* md32 = nullptr;
  for (const auto& rule : rules_) {
    next.clear();
    next.reserve(pieces.size() * 2);
    std::size_t ini = 0;
    for (std::uint32_t len : pieces) {
      const std::size_t end = ini + len;
      switch (rule->kind) {
        case RuleKind::GPT2:
          split_gpt2(ctx, ini, end, next);
          break;
        case RuleKind::LLAMA3:
          split_llama3(ctx, *rule, ini, end, next);
          break;
        case RuleKind::NEWLINES:
          split_newlines(ctx, ini, end, next);
          break;
        case RuleKind::REGEX_COLLAPSED: {
          if (!md8) md8 = pcre2_match_data_create_from_pattern_8(rule->code8, nullptr);
          const std::string& text = ctx.collapsed_text();
          const auto* subject = reinterpret_cast<PCRE2_SPTR8>(text.data() + ini);
          split_regex(ini, end, next, [&](std::size_t from, std::size_t& b, std::size_t& e) {
            const int rc = pcre2_match_8(rule->code8, subject, len, from, 0, md8, nullptr);
            if (rc < 0) return false;
            const PCRE2_SIZE* ov = pcre2_get_ovector_pointer_8(md8);
            b = ov[0];
            e = ov[1];
            return true;
          });
          break;
        }
        case RuleKind::REGEX_WIDE: {
          if (!md32) md32 = pcre2_match_data_create_from_pattern_32(rule->code32, nullptr);
          const std::vector<std::uint32_t>& text = ctx.wide_text();
          const auto* subject = reinterpret_cast<PCRE2_SPTR32>(text.data() + ini);
          split_regex(ini, end, next, [&](std::size_t from, std::size_t& b, std::size_t& e) {
            const int rc = pcre2_match_32(rule->code32, subject, len, from, 0, md32, nullptr);
            if (rc < 0) return false;
            const PCRE2_SIZE* ov = pcre2_get_ovector_pointer_32(md32);
            b = ov[0];
            e = ov[1];
            return true;
          });
          break;
        }
      }
      ini = end;
    }
    pieces.swap(next);
  }
  // Match data is per pattern; free it between rules too (patterns differ in capture count).
  if (md8) pcre2_match_data_free_8(md8);
  if (md32) pcre2_match_data_free_32(md32);
  lengths = std::move(pieces);
}

}  // namespace rapide::inference::tok
