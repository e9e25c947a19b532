// Verification cost: the wall time of one forward pass over k+1 rows (all rows' logits, as a
// speculative verification needs) divided by the time of a one-row decoding pass, k = 1..15, at
// a given context length. Speculation pays when tokens per pass exceed this ratio.
//
// usage: speculation_verify --model F [--context N] [--kmax K] [--reps R] [--threads T]
#include "rapide/inference/gguf.h"
#include "rapide/inference/model.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

using namespace rapide::inference;

int main(int argc, char** argv) {
  std::string path;
  int context = 512, kmax = 15, reps = 5, threads = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--model") path = next();
    else if (a == "--context") context = std::atoi(next());
    else if (a == "--kmax") kmax = std::atoi(next());
    else if (a == "--reps") reps = std::atoi(next());
    else if (a == "--threads") threads = std::atoi(next());
    else {
      std::fprintf(stderr, "usage: speculation_verify --model F [--context N] [--kmax K] [--reps R] [--threads T]\n");
      return 2;
    }
  }
  if (path.empty() || context < 1 || kmax < 0 || reps < 1) {
    std::fprintf(stderr, "usage: speculation_verify --model F [--context N] [--kmax K] [--reps R] [--threads T]\n");
    return 2;
  }
  auto file = gguf::GgufFile::open(path);
  if (!file) {
    std::fprintf(stderr, "%s\n", file.message().c_str());
    return 1;
  }
  LoadOptions lo;
  lo.n_threads = threads;
  auto model = Model::load(*file, lo);
  if (!model) {
    std::fprintf(stderr, "%s\n", model.message().c_str());
    return 1;
  }
  Model& m = **model;
  const std::int32_t nv = m.config().n_vocab;
  auto kv = m.new_kv_cache(context + kmax + 2);
  if (!kv) {
    std::fprintf(stderr, "%s\n", kv.message().c_str());
    return 1;
  }
  std::mt19937 rng(1);
  std::vector<std::int32_t> ctx(static_cast<std::size_t>(context));
  for (auto& t : ctx) t = static_cast<std::int32_t>(rng() % static_cast<unsigned>(nv));
  std::vector<float> logits(static_cast<std::size_t>(kmax + 1) * static_cast<std::size_t>(nv));
  {
    const std::int32_t last = context - 1;
    Model::SequenceBatch b{kv->get(), ctx, {&last, 1}, logits.data()};
    if (auto st = m.forward({&b, 1}); !st) {
      std::fprintf(stderr, "%s\n", st.message().c_str());
      return 1;
    }
  }
  std::printf("model %s (%s, %d layers, n_embd %d), context %d tokens, median of %d runs\n", path.c_str(),
              m.config().arch.c_str(), m.config().n_layer, m.config().n_embd, context, reps);
  std::printf("%4s %6s %10s %8s %12s\n", "k", "rows", "ms", "ratio", "ratio/rows");
  double base = 0;
  for (int k = 0; k <= kmax; ++k) {
    std::vector<std::int32_t> toks(static_cast<std::size_t>(k + 1));
    std::vector<std::int32_t> rows(static_cast<std::size_t>(k + 1));
    for (int i = 0; i <= k; ++i) {
      toks[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(rng() % static_cast<unsigned>(nv));
      rows[static_cast<std::size_t>(i)] = i;
    }
    std::vector<double> times;
    for (int r = 0; r < reps + 1; ++r) {
      (*kv)->truncate(context);
      Model::SequenceBatch b{kv->get(), toks, rows, logits.data()};
      const auto t0 = std::chrono::steady_clock::now();
      if (auto st = m.forward({&b, 1}); !st) {
        std::fprintf(stderr, "%s\n", st.message().c_str());
        return 1;
      }
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      if (r > 0) times.push_back(ms);  // the first run warms caches
    }
    std::sort(times.begin(), times.end());
    const double med = times[times.size() / 2];
    if (k == 0) base = med;
    std::printf("%4d %6d %10.2f %8.2f %12.3f\n", k, k + 1, med, med / base, med / base / (k + 1));
  }
  return 0;
}
