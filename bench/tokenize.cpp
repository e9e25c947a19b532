// Tokenizer speed: tokenizes a text (by default a 1 MiB corpus of this repository's own source
// files, built deterministically) with a GGUF vocabulary and prints the time per run.
//
//   bench_tokenize --model FILE [--file TEXT] [--bytes N] [--repeat N] [--write-corpus OUT]
//                  [--ids OUT] [--special]
//
// The corpus: every file under the source folders listed below with a source extension, in
// sorted path order, concatenated with a "// file: <path>\n" header each, cut at N bytes (on a
// UTF-8 boundary). --write-corpus saves it so that bench/reference/tokenize.mjs can time llama.cpp
// on the same bytes (bench/tokenize_compare.sh does both and prints the ratio).
#include "rapide/inference/gguf.h"
#include "rapide/inference/tokenizer.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using rapide::inference::Tokenizer;
namespace gguf = rapide::inference::gguf;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string make_corpus(const fs::path& root, std::size_t bytes) {
  static const char* k_dirs[] = {"inference", "context", "lsp", "cli", "tests", "bench", "editors", "cmake",
                                 "scripts", "grammars/queries"};
  static const char* k_exts[] = {".cpp", ".h", ".cu", ".cuh", ".ts", ".lua", ".py", ".sh", ".cmake", ".scm",
                                 ".mjs", ".md", ".txt"};
  std::vector<fs::path> files;
  for (const char* d : k_dirs) {
    const fs::path dir = root / d;
    if (!fs::is_directory(dir)) continue;
    for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
      if (it->is_directory() && it->path().filename() == "node_modules") {
        it.disable_recursion_pending();
        continue;
      }
      if (!it->is_regular_file()) continue;
      const std::string ext = it->path().extension().string();
      if (std::find_if(std::begin(k_exts), std::end(k_exts), [&](const char* e) { return ext == e; }) ==
          std::end(k_exts))
        continue;
      files.push_back(it->path());
    }
  }
  std::sort(files.begin(), files.end());
  std::string corpus;
  while (corpus.size() < bytes && !files.empty()) {  // repeat the set if the tree is small
    for (const fs::path& f : files) {
      corpus += "// file: " + fs::relative(f, root).generic_string() + "\n";
      corpus += read_file(f);
      if (corpus.size() >= bytes) break;
    }
  }
  if (corpus.size() > bytes) {
    std::size_t cut = bytes;
    while (cut > 0 && (static_cast<unsigned char>(corpus[cut]) & 0xC0) == 0x80) --cut;
    corpus.resize(cut);
  }
  return corpus;
}

[[noreturn]] void usage(const char* msg) {
  std::fprintf(stderr,
               "bench_tokenize: %s\nusage: bench_tokenize --model FILE [--file TEXT] [--bytes N] [--repeat N] "
               "[--write-corpus OUT] [--ids OUT] [--special]\n",
               msg);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string model, file, corpus_out, ids_out;
  std::size_t bytes = 1 << 20;
  int repeat = 5;
  bool special = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage((a + " needs a value").c_str());
      return argv[++i];
    };
    if (a == "--model") model = next();
    else if (a == "--file") file = next();
    else if (a == "--bytes") bytes = std::stoull(next());
    else if (a == "--repeat") repeat = std::stoi(next());
    else if (a == "--write-corpus") corpus_out = next();
    else if (a == "--ids") ids_out = next();
    else if (a == "--special") special = true;
    else usage(("unknown argument " + a).c_str());
  }
  if (model.empty()) usage("--model is required");
  if (repeat < 1) usage("--repeat must be >= 1");

  const std::string text = file.empty() ? make_corpus(RAPIDE_SOURCE_DIR, bytes) : read_file(file);
  if (!corpus_out.empty()) {
    std::ofstream(corpus_out, std::ios::binary) << text;
  }

  auto t_load = std::chrono::steady_clock::now();
  auto gf = gguf::GgufFile::open(model);
  if (!gf) {
    std::fprintf(stderr, "bench_tokenize: %s\n", gf.message().c_str());
    return 1;
  }
  auto tok = Tokenizer::from_gguf(**gf);
  if (!tok) {
    std::fprintf(stderr, "bench_tokenize: %s\n", tok.message().c_str());
    return 1;
  }
  const double load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_load).count();

  std::vector<std::int32_t> ids = (*tok)->encode(text, false, special);  // warm-up
  std::vector<double> ms;
  for (int r = 0; r < repeat; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    ids = (*tok)->encode(text, false, special);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  if (!ids_out.empty()) {
    std::ofstream f(ids_out, std::ios::binary);
    for (std::size_t i = 0; i < ids.size(); ++i) f << (i ? " " : "") << ids[i];
    f << "\n";
  }
  std::printf(
      "{\"bytes\":%zu,\"n_tokens\":%zu,\"load_ms\":%.1f,\"ms_best\":%.3f,\"ms_median\":%.3f,\"mb_per_s\":%.1f}\n",
      text.size(), ids.size(), load_ms, sorted.front(), sorted[sorted.size() / 2],
      static_cast<double>(text.size()) / 1e6 / (sorted.front() / 1e3));
  return 0;
}
