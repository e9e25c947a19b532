// Drafter quality with the true output as oracle.
//
// For each bench/tasks/*.task (an instruction, the code before, the code after), the prompt is a
// ChatML edit request holding the code before; the model's output is taken to be the code after
// (what a perfect model would write). Decoding is simulated step by step: the n-gram drafter
// proposes up to k tokens from prompt + output so far, the "target" accepts the longest prefix
// that matches the true output and adds one token of its own (the correction or bonus token), as
// one verification forward pass would. Reported per task and overall:
//   tokens/pass     output tokens per target forward pass (plain decoding: 1.0)
//   accepted/verif  drafted tokens accepted per verification (passes that carried a draft)
//   accepted/pass   drafted tokens accepted per forward pass (all passes)
//   acceptance      accepted / drafted
//
// usage: speculation_drafter --vocab VOCAB.gguf --tasks DIR [--max-draft N] [--max-ngram N]
//                            [--min-ngram N] [--verbose]
#include "rapide/inference/engine/speculative.h"
#include "rapide/inference/gguf.h"
#include "rapide/inference/tokenizer.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace rapide::inference;
using namespace rapide::inference::engine;

namespace {

struct Task {
  std::string name, instruction, language, before, after;
};

bool parse_task(const fs::path& path, Task& t, std::string& why) {
  std::ifstream in(path);
  if (!in) {
    why = "cannot open";
    return false;
  }
  std::string line;
  std::string* target = nullptr;
  t.name = path.stem().string();
  while (std::getline(in, line)) {
    if (line.rfind("# instruction: ", 0) == 0 && !target) {
      t.instruction = line.substr(15);
    } else if (line.rfind("# language: ", 0) == 0 && !target) {
      t.language = line.substr(12);
    } else if (line == "=== before") {
      target = &t.before;
    } else if (line == "=== after") {
      target = &t.after;
    } else if (target) {
      *target += line;
      *target += '\n';
    }
  }
  if (t.instruction.empty() || t.language.empty() || t.before.empty() || t.after.empty()) {
    why = "needs '# instruction:', '# language:', '=== before' and '=== after'";
    return false;
  }
  return true;
}

struct Figures {
  long output_tokens = 0, passes = 0, verifications = 0, drafted = 0, accepted = 0;
  void add(const Figures& o) {
    output_tokens += o.output_tokens;
    passes += o.passes;
    verifications += o.verifications;
    drafted += o.drafted;
    accepted += o.accepted;
  }
  double tokens_per_pass() const { return passes ? double(output_tokens) / double(passes) : 0; }
  double accepted_per_verification() const { return verifications ? double(accepted) / double(verifications) : 0; }
  double accepted_per_pass() const { return passes ? double(accepted) / double(passes) : 0; }
  double acceptance() const { return drafted ? double(accepted) / double(drafted) : 0; }
};

Figures simulate(const std::vector<std::int32_t>& prompt, const std::vector<std::int32_t>& output,
                 const NgramOptions& opts) {
  NgramDrafter drafter(opts);
  std::vector<std::int32_t> seq = prompt;
  Figures f;
  f.output_tokens = static_cast<long>(output.size());
  std::size_t pos = 0;
  while (pos < output.size()) {
    const std::vector<std::int32_t> d = drafter.draft(seq, opts.max_draft);
    std::size_t acc = 0;
    while (acc < d.size() && pos + acc < output.size() && d[acc] == output[pos + acc]) ++acc;
    ++f.passes;
    if (!d.empty()) {
      ++f.verifications;
      f.drafted += static_cast<long>(d.size());
      f.accepted += static_cast<long>(acc);
    }
    drafter.update(static_cast<int>(d.size()), static_cast<int>(acc));
    // accepted drafts + the target's own token (correction or bonus)
    const std::size_t emit = std::min(acc + 1, output.size() - pos);
    seq.insert(seq.end(), output.begin() + static_cast<std::ptrdiff_t>(pos),
               output.begin() + static_cast<std::ptrdiff_t>(pos + emit));
    pos += emit;
  }
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  std::string vocab_path, tasks_dir;
  NgramOptions opts;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--vocab") vocab_path = next();
    else if (a == "--tasks") tasks_dir = next();
    else if (a == "--max-draft") opts.max_draft = std::atoi(next().c_str());
    else if (a == "--max-ngram") opts.max_ngram = std::atoi(next().c_str());
    else if (a == "--min-ngram") opts.min_ngram = std::atoi(next().c_str());
    else if (a == "--initial-draft") opts.initial_draft = std::atoi(next().c_str());
    else if (a == "--confident-ngram") opts.confident_ngram = std::atoi(next().c_str());
    else if (a == "--short-match-draft") opts.short_match_draft = std::atoi(next().c_str());
    else if (a == "--long-match-ngram") opts.long_match_ngram = std::atoi(next().c_str());
    else if (a == "--min-draft") opts.min_draft = std::atoi(next().c_str());
    else if (a == "--verbose") verbose = true;
    else {
      std::fprintf(stderr, "unknown argument %s\nusage: speculation_drafter --vocab VOCAB.gguf --tasks DIR "
                           "[--max-draft N] [--max-ngram N] [--min-ngram N] [--verbose]\n", a.c_str());
      return 2;
    }
  }
  if (vocab_path.empty() || tasks_dir.empty()) {
    std::fprintf(stderr, "usage: speculation_drafter --vocab VOCAB.gguf --tasks DIR [--max-draft N]\n");
    return 2;
  }
  opts.initial_draft = std::min(opts.initial_draft, opts.max_draft);
  auto file = gguf::GgufFile::open(vocab_path);
  if (!file) {
    std::fprintf(stderr, "%s\n", file.message().c_str());
    return 1;
  }
  auto tok = Tokenizer::from_gguf(**file);
  if (!tok) {
    std::fprintf(stderr, "%s\n", tok.message().c_str());
    return 1;
  }
  std::vector<fs::path> paths;
  for (const auto& e : fs::directory_iterator(tasks_dir))
    if (e.path().extension() == ".task") paths.push_back(e.path());
  std::sort(paths.begin(), paths.end());
  if (paths.empty()) {
    std::fprintf(stderr, "no .task files in %s\n", tasks_dir.c_str());
    return 1;
  }

  Figures total;
  std::map<std::string, Figures> by_language;
  std::printf("%-32s %-10s %7s %7s %9s %9s %9s %10s\n", "task", "language", "prompt", "output", "tok/pass",
              "acc/verif", "acc/pass", "acceptance");
  for (const auto& p : paths) {
    Task t;
    std::string why;
    if (!parse_task(p, t, why)) {
      std::fprintf(stderr, "%s: %s\n", p.string().c_str(), why.c_str());
      return 1;
    }
    const std::string prompt_text = "<|im_start|>user\n" + t.instruction + "\n```" + t.language + "\n" + t.before +
                                    "```<|im_end|>\n<|im_start|>assistant\n```" + t.language + "\n";
    const std::string output_text = t.after + "```";
    const auto prompt = (*tok)->encode(prompt_text, false, true);
    const auto output = (*tok)->encode(output_text, false, false);
    const Figures f = simulate(prompt, output, opts);
    total.add(f);
    by_language[t.language].add(f);
    std::printf("%-32s %-10s %7zu %7zu %9.2f %9.2f %9.2f %9.1f%%\n", t.name.c_str(), t.language.c_str(), prompt.size(),
                output.size(), f.tokens_per_pass(), f.accepted_per_verification(), f.accepted_per_pass(),
                100 * f.acceptance());
    if (verbose) std::printf("  passes %ld, verifications %ld, drafted %ld, accepted %ld\n", f.passes, f.verifications,
                             f.drafted, f.accepted);
  }
  std::printf("\nby language:\n");
  for (const auto& [lang, f] : by_language)
    std::printf("  %-10s tok/pass %.2f  acc/verif %.2f  acceptance %.1f%%\n", lang.c_str(), f.tokens_per_pass(),
                f.accepted_per_verification(), 100 * f.acceptance());
  std::printf("\nall %zu tasks (max_draft %d, ngram %d..%d): output tokens %ld, forward passes %ld\n", paths.size(),
              opts.max_draft, opts.min_ngram, opts.max_ngram, total.output_tokens, total.passes);
  std::printf("  tokens per forward pass          %.2f\n", total.tokens_per_pass());
  std::printf("  accepted tokens per verification %.2f  (goal >= 4)\n", total.accepted_per_verification());
  std::printf("  accepted tokens per forward pass %.2f\n", total.accepted_per_pass());
  std::printf("  acceptance rate                  %.1f%%\n", 100 * total.acceptance());
  std::printf("  mean draft length                %.2f\n",
              total.verifications ? double(total.drafted) / double(total.verifications) : 0.0);
  return 0;
}
