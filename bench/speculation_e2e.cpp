// End-to-end speculative decoding on a real model: the same prompts decoded greedily with
// --speculate none, ngram and draft; checks that the tokens are identical and reports decode
// time, forward passes per token and the speed-up over plain decoding.
//
// usage: speculation_e2e --model F [--draft-model F] [--prompts FILE] [-n N] [--draft-max K]
//        [--threads T]   (prompts: one per line; default: a few story openings)
#include "rapide/inference/engine/engine.h"
#include "rapide/inference/gguf.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

using namespace rapide::inference;
using namespace rapide::inference::engine;

namespace {
std::unique_ptr<Model> load_model(const std::string& path, std::shared_ptr<const Tokenizer>* tok, int threads) {
  auto f = gguf::GgufFile::open(path);
  if (!f) {
    std::fprintf(stderr, "%s\n", f.message().c_str());
    std::exit(1);
  }
  if (tok) {
    auto t = Tokenizer::from_gguf(**f);
    if (!t) {
      std::fprintf(stderr, "%s\n", t.message().c_str());
      std::exit(1);
    }
    *tok = *t;
  }
  LoadOptions lo;
  lo.n_threads = threads;
  auto m = Model::load(*f, lo);
  if (!m) {
    std::fprintf(stderr, "%s\n", m.message().c_str());
    std::exit(1);
  }
  return std::move(*m);
}
}  // namespace

int main(int argc, char** argv) {
  std::string model_path, draft_path, prompts_path;
  int n = 128, draft_max = 16, threads = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) std::exit(2);
      return argv[++i];
    };
    if (a == "--model") model_path = next();
    else if (a == "--draft-model") draft_path = next();
    else if (a == "--prompts") prompts_path = next();
    else if (a == "-n") n = std::atoi(next().c_str());
    else if (a == "--draft-max") draft_max = std::atoi(next().c_str());
    else if (a == "--threads") threads = std::atoi(next().c_str());
    else {
      std::fprintf(stderr, "usage: speculation_e2e --model F [--draft-model F] [--prompts FILE] [-n N] [--draft-max K] [--threads T]\n");
      return 2;
    }
  }
  if (model_path.empty()) {
    std::fprintf(stderr, "usage: speculation_e2e --model F [--draft-model F] [--prompts FILE] [-n N] [--draft-max K] [--threads T]\n");
    return 2;
  }
  std::vector<std::string> prompts = {"Once upon a time", "Lily and Ben went to the park. Lily and Ben",
                                      "Tom had a red ball. He liked to play with his ball. One day, Tom",
                                      "The cat sat on the mat. The cat sat on the", "One day, a little girl named Sue"};
  if (!prompts_path.empty()) {
    prompts.clear();
    std::ifstream in(prompts_path);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) prompts.push_back(line);
  }
  std::shared_ptr<const Tokenizer> tok;
  auto target = load_model(model_path, &tok, threads);
  std::unique_ptr<Model> draft;
  if (!draft_path.empty()) draft = load_model(draft_path, nullptr, threads);
  auto engine = Engine::create(std::move(target), tok, {}, std::move(draft));
  if (!engine) {
    std::fprintf(stderr, "%s\n", engine.message().c_str());
    return 1;
  }
  std::vector<Speculation> modes = {Speculation::NONE, Speculation::NGRAM};
  if (!draft_path.empty()) modes.push_back(Speculation::DRAFT);
  std::vector<std::vector<std::int32_t>> reference(prompts.size());
  double base_ms = 0;
  std::printf("%-6s %8s %10s %10s %12s %10s %10s %9s\n", "mode", "tokens", "decode_ms", "tok/s", "passes/tok", "accept",
              "acc/verif", "speed-up");
  for (Speculation mode : modes) {
    double ms = 0;
    long tokens = 0, passes = 0;
    SpeculationStats total;
    bool identical = true;
    for (int rep = 0; rep < 3; ++rep) {  // 3 repetitions, prefix reuse makes the prefill free after the first
      for (std::size_t i = 0; i < prompts.size(); ++i) {
        GenerateRequest r;
        r.prompt = tok->encode(prompts[i], true, false);
        r.max_tokens = n;
        r.stop_at_eog = false;
        r.speculation = mode;
        r.draft_max = draft_max;
        const GenerateResult out = (*engine)->generate(std::move(r));
        if (out.finish == Finish::ERROR) {
          std::fprintf(stderr, "%s\n", out.error.c_str());
          return 1;
        }
        if (mode == Speculation::NONE && rep == 0) reference[i] = out.tokens;
        identical = identical && out.tokens == reference[i];
        ms += out.decode_ms;
        tokens += static_cast<long>(out.tokens.size());
        passes += out.speculation.forward_passes;
        total.drafted += out.speculation.drafted;
        total.accepted += out.speculation.accepted;
        total.verifications += out.speculation.verifications;
      }
    }
    if (mode == Speculation::NONE) base_ms = ms;
    std::printf("%-6s %8ld %10.1f %10.1f %12.3f %9.1f%% %10.2f %8.2fx %s\n", std::string(speculation_name(mode)).c_str(),
                tokens, ms, tokens / (ms / 1000.0), double(passes) / double(tokens), 100 * total.acceptance_rate(),
                total.mean_accepted(), base_ms / ms, identical ? "identical" : "DIFFERENT OUTPUT");
  }
  return 0;
}
