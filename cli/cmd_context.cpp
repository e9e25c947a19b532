// `rapide context FILE:LINE:COL [--budget N] [--open FILE ...] [--workspace DIR] [--model F]`:
// prints the completion context assembled at a position (LINE and COL 1-based, COL in bytes as
// compilers print it) and why each piece was included. A debugging aid for the context builder.
#include "commands.h"

#include "rapide/context/completion_context.h"
#include "rapide/context/workspace.h"
#include "rapide/inference/gguf.h"
#include "rapide/inference/tokenizer.h"

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace rapide::cli {
namespace {

struct ContextArgs {
  std::string location;
  int budget = 1536;
  std::vector<std::string> open;
  std::vector<std::string> folders;
  std::string model;
};

bool read_text(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

// "path:LINE:COL" split from the right, so paths may contain ':'.
bool parse_location(const std::string& loc, std::string* path, long* line, long* col, std::string* why) {
  const size_t c2 = loc.rfind(':');
  const size_t c1 = c2 == std::string::npos || c2 == 0 ? std::string::npos : loc.rfind(':', c2 - 1);
  if (c1 == std::string::npos) {
    *why = "expected FILE:LINE:COL, got '" + loc + "'";
    return false;
  }
  try {
    size_t used = 0;
    *line = std::stol(loc.substr(c1 + 1, c2 - c1 - 1), &used);
    if (used != c2 - c1 - 1) throw std::invalid_argument("line");
    *col = std::stol(loc.substr(c2 + 1), &used);
    if (used != loc.size() - c2 - 1) throw std::invalid_argument("col");
  } catch (const std::exception&) {
    *why = "expected FILE:LINE:COL with numbers for LINE and COL, got '" + loc + "'";
    return false;
  }
  if (*line < 1 || *col < 1) {
    *why = "LINE and COL are 1-based, got " + std::to_string(*line) + ":" + std::to_string(*col);
    return false;
  }
  *path = loc.substr(0, c1);
  return true;
}

int run_context(const ContextArgs& a) {
  namespace ctx = rapide::context;
  std::string path, why;
  long line = 0, col = 0;
  if (!parse_location(a.location, &path, &line, &col, &why)) {
    std::fprintf(stderr, "rapide context: %s\n", why.c_str());
    return 2;
  }
  if (a.budget < 1) {
    std::fprintf(stderr, "rapide context: --budget must be at least 1, got %d\n", a.budget);
    return 2;
  }
  std::string text;
  if (!read_text(path, &text)) {
    std::fprintf(stderr, "rapide context: cannot read %s\n", path.c_str());
    return 1;
  }
  ctx::WorkspaceOptions wo;
  wo.background = false;
  ctx::Workspace ws(wo);
  for (const std::string& f : a.folders) ws.add_folder(f);
  ws.open(path, "", text, 1);
  for (const std::string& o : a.open) {
    std::string t;
    if (!read_text(o, &t)) {
      std::fprintf(stderr, "rapide context: cannot read --open file %s\n", o.c_str());
      return 1;
    }
    ws.open(o, "", t, 1);
  }
  const ctx::SnapshotPtr doc = ws.snapshot(path);
  const ctx::LineIndex& lines = doc->lines();
  if (static_cast<unsigned long>(line) > lines.line_count()) {
    std::fprintf(stderr, "rapide context: %s has %u lines, got line %ld\n", path.c_str(), lines.line_count(), line);
    return 2;
  }
  const uint32_t line_len = static_cast<uint32_t>(lines.line_text(static_cast<uint32_t>(line - 1)).size());
  if (static_cast<unsigned long>(col) > line_len + 1ul) {
    std::fprintf(stderr, "rapide context: line %ld of %s has %u bytes, so COL is 1..%u; got %ld\n", line, path.c_str(),
                 line_len, line_len + 1, col);
    return 2;
  }
  const uint32_t cursor = lines.offset(
      ctx::Position{static_cast<uint32_t>(line - 1), static_cast<uint32_t>(col - 1)}, ctx::PositionEncoding::utf8);

  ctx::ContextOptions opts;
  opts.budget_tokens = a.budget;
  std::shared_ptr<const rapide::inference::Tokenizer> tokenizer;
  std::string counting = "approximate token counts (no --model given)";
  if (!a.model.empty()) {
    auto file = rapide::inference::gguf::GgufFile::open(a.model);
    if (!file) {
      std::fprintf(stderr, "rapide context: %s\n", file.message().c_str());
      return 1;
    }
    auto tok = rapide::inference::Tokenizer::from_gguf(**file);
    if (!tok) {
      std::fprintf(stderr, "rapide context: %s: %s\n", a.model.c_str(), tok.message().c_str());
      return 1;
    }
    tokenizer = *tok;
    opts.count_tokens = [tokenizer](std::string_view s) {
      return static_cast<int>(tokenizer->encode(s, false, false).size());
    };
    counting = "tokens counted with the tokenizer of " + a.model;
  }
  const ctx::CompletionContext c = ctx::build_completion_context(ws, *doc, cursor, opts);
  std::printf("%s\n%s", counting.c_str(), ctx::describe_context(c).c_str());
  return 0;
}

}  // namespace

void register_context(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<ContextArgs>();
  CLI::App* cmd = app.add_subcommand(
      "context", "Print the completion context assembled at FILE:LINE:COL (1-based) and why each piece is in it");
  cmd->add_option("location", args->location, "FILE:LINE:COL, 1-based (COL in bytes)")->required();
  cmd->add_option("--budget", args->budget, "Token budget of the context")->capture_default_str();
  cmd->add_option("--open", args->open, "Other files to treat as open documents")->expected(1, -1);
  cmd->add_option("--workspace", args->folders, "Workspace folder(s) to index for definitions and imports");
  cmd->add_option("--model", args->model, "GGUF model whose tokenizer counts the tokens");
  cmd->callback([args, exit_code] { *exit_code = run_context(*args); });
}

}  // namespace rapide::cli
