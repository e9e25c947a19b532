// `rapide tokenize --model FILE [--text T | --file F] [--add-special] [--parse-special] [--pieces]`:
// prints the token ids of the text, exactly as given (no BOS/EOS unless --add-special; special
// token texts become their ids only with --parse-special), separated by spaces on one line.
// --pieces prints one token per line instead: the id, a tab, and the token's text (escaped).
// Vocabulary-only GGUF files work: only the tokenizer metadata is read.
#include "commands.h"

#include "rapide/inference/gguf.h"
#include "rapide/inference/tokenizer.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>

namespace rapide::cli {
namespace {

struct TokenizeArgs {
  std::string model;
  std::optional<std::string> text;
  std::optional<std::string> file;
  bool add_special = false;
  bool parse_special = false;
  bool pieces = false;
};

// A piece shown on one line: printable ASCII and valid UTF-8 as they are; \n \r \t \\ escaped;
// other bytes (controls, bytes of incomplete UTF-8 sequences) as \xNN.
std::string escape_piece(const std::string& s) {
  std::string out;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  static const char* hex = "0123456789abcdef";
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    if (c == '\n') {
      out += "\\n";
      ++i;
    } else if (c == '\r') {
      out += "\\r";
      ++i;
    } else if (c == '\t') {
      out += "\\t";
      ++i;
    } else if (c == '\\') {
      out += "\\\\";
      ++i;
    } else if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
      ++i;
    } else {
      std::size_t len = 0;
      if ((c & 0xE0) == 0xC0)
        len = 2;
      else if ((c & 0xF0) == 0xE0)
        len = 3;
      else if ((c & 0xF8) == 0xF0)
        len = 4;
      bool valid = len > 0 && i + len <= n;
      for (std::size_t k = 1; valid && k < len; ++k) valid = (p[i + k] & 0xC0) == 0x80;
      if (valid) {
        out.append(s, i, len);
        i += len;
      } else {
        out += "\\x";
        out += hex[c >> 4];
        out += hex[c & 15];
        ++i;
      }
    }
  }
  return out;
}

int run_tokenize(const TokenizeArgs& a) {
  std::string text;
  if (a.text) {
    text = *a.text;
  } else if (a.file) {
    if (*a.file == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      std::ifstream in(*a.file, std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "rapide tokenize: cannot read '%s'\n", a.file->c_str());
        return 1;
      }
      std::ostringstream ss;
      ss << in.rdbuf();
      text = ss.str();
    }
  } else {
    std::fprintf(stderr, "rapide tokenize: give the text with --text T or --file F (--file - reads stdin)\n");
    return 2;
  }

  auto file = inference::gguf::GgufFile::open(a.model);
  if (!file) {
    std::fprintf(stderr, "rapide tokenize: %s\n", file.message().c_str());
    return 1;
  }
  auto tok = inference::Tokenizer::from_gguf(**file);
  if (!tok) {
    std::fprintf(stderr, "rapide tokenize: %s\n", tok.message().c_str());
    return 1;
  }
  const auto ids = (*tok)->encode(text, a.add_special, a.parse_special);
  std::string out;
  if (a.pieces) {
    for (const std::int32_t id : ids) {
      out += std::to_string(id);
      out += '\t';
      out += escape_piece((*tok)->token_to_piece(id));
      out += '\n';
    }
  } else {
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (i) out += ' ';
      out += std::to_string(ids[i]);
    }
    out += '\n';
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace

void register_tokenize(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<TokenizeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "tokenize", "Print the token ids of a text with a GGUF model's tokenizer (vocabulary-only files work)");
  cmd->add_option("--model,-m", args->model, "GGUF file (model or vocabulary only)")->required();
  auto* text = cmd->add_option("--text,-t", args->text, "The text to tokenize, exactly as given");
  auto* file = cmd->add_option("--file,-f", args->file, "Read the text from this file ('-' for stdin)");
  text->excludes(file);
  file->excludes(text);
  cmd->add_flag("--add-special", args->add_special, "Add BOS/EOS as the model's metadata asks");
  cmd->add_flag("--parse-special", args->parse_special,
                "Turn special-token texts (<|im_end|>, <|fim_prefix|> ...) into their ids");
  cmd->add_flag("--pieces", args->pieces, "One token per line: id, tab, the token's text (escaped)");
  cmd->callback([args, exit_code]() { *exit_code = run_tokenize(*args); });
}

}  // namespace rapide::cli
