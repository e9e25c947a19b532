// Helpers for the llama.cpp comparisons (reference_*_test.cpp). Acceptance against llama.cpp
// (node-llama-cpp 3.21.1 running bench/reference/logprobs.mjs) on the same GGUF and tokens:
//   - mean KL divergence of our next-token distribution from llama.cpp's over >= 256 positions
//     (< 1e-3 for F32/F16 weights, < 1e-2 for quantized ones),
//   - greedy continuation of 64 tokens identical (on the real trained model),
//   - perplexity equal to 3 digits (llama-perplexity's chunked method).
// Models: the real stories260K, the F16 llama-2-tiny-random, and `rapide make-model --preset
// tiny` files for each architecture at F32, F16, Q8_0 and Q4_K. Skips with the reason when node,
// node_modules or the shared files are missing. Prints the figures (bench/RESULTS.md has them).
#pragma once

#include "rapide/inference/gguf.h"
#include "rapide/inference/model.h"
#include "rapide/inference/perplexity.h"
#include "test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <optional>
#include <sstream>

namespace rapide::inference::reference {

namespace fs = std::filesystem;
using rapide::testing::run_process;
using rapide::testing::TempDir;

inline std::optional<fs::path> find_node() {
  const char* path = std::getenv("PATH");
  if (!path) return std::nullopt;
  std::stringstream ss(path);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    const fs::path p = fs::path(dir) / "node";
    if (!dir.empty() && fs::exists(p)) return p;
  }
  return std::nullopt;
}

inline fs::path reference_dir() { return fs::path(RAPIDE_SOURCE_DIR) / "bench" / "reference"; }

// Skips unless node and node-llama-cpp are installed.
#define RAPIDE_REQUIRE_NODE(var)                                                                        \
  const std::optional<fs::path> var = find_node();                                                     \
  if (!var) GTEST_SKIP() << "node is not on PATH: the llama.cpp reference cannot run";                  \
  if (!fs::exists(reference_dir() / "node_modules" / "node-llama-cpp"))                                 \
  GTEST_SKIP() << "bench/reference/node_modules is missing (run scripts/setup.sh or npm ci there)"

struct Reference {
  nlohmann::json j;
  std::vector<float> probs;  // [positions, n_vocab]
};

inline Reference run_reference(const fs::path& node, const fs::path& model, const fs::path& text, int positions, int greedy,
                        int ppl_ctx) {
  TempDir tmp;
  const fs::path probs = tmp.path() / "probs.bin";
  auto r = run_process({node.string(), (reference_dir() / "logprobs.mjs").string(), "--model", model.string(),
                        "--text-file", text.string(), "--positions", std::to_string(positions), "--probs-out",
                        probs.string(), "--greedy", std::to_string(greedy), "--ppl-ctx", std::to_string(ppl_ctx)},
                       {}, 600);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  Reference ref;
  if (r.exit_code != 0) return ref;
  ref.j = nlohmann::json::parse(r.out);
  if (positions > 0) {
    std::ifstream in(probs, std::ios::binary);
    const std::size_t n = static_cast<std::size_t>(ref.j.at("positions").get<int>()) * ref.j.at("n_vocab").get<std::size_t>();
    ref.probs.resize(n);
    in.read(reinterpret_cast<char*>(ref.probs.data()), static_cast<std::streamsize>(n * sizeof(float)));
    EXPECT_TRUE(in.good()) << "short probabilities file";
  }
  return ref;
}

inline std::unique_ptr<Model> load_model(const fs::path& p) {
  auto f = gguf::GgufFile::open(p);
  EXPECT_TRUE(f) << f.message();
  if (!f) return nullptr;
  auto m = Model::load(*f, {});
  EXPECT_TRUE(m) << m.message();
  return m ? std::move(*m) : nullptr;
}

// Mean KL(llama.cpp || ours) over the reference positions.
inline double mean_kl(Model& m, const Reference& ref) {
  const auto tokens_all = ref.j.at("tokens").get<std::vector<std::int32_t>>();
  const int n = ref.j.at("positions").get<int>();
  const std::size_t nv = ref.j.at("n_vocab").get<std::size_t>();
  EXPECT_EQ(nv, static_cast<std::size_t>(m.config().n_vocab));
  const std::vector<std::int32_t> tokens(tokens_all.begin(), tokens_all.begin() + n);
  auto kv = m.new_kv_cache(n);
  std::vector<std::int32_t> rows(static_cast<std::size_t>(n));
  std::iota(rows.begin(), rows.end(), 0);
  std::vector<float> logits(static_cast<std::size_t>(n) * nv);
  Model::SequenceBatch b{kv->get(), tokens, rows, logits.data()};
  const Status st = m.forward({&b, 1});
  EXPECT_TRUE(st) << st.message();
  double total = 0;
  for (int t = 0; t < n; ++t) {
    const float* l = logits.data() + static_cast<std::size_t>(t) * nv;
    const float mx = *std::max_element(l, l + nv);
    double z = 0;
    for (std::size_t i = 0; i < nv; ++i) z += std::exp(double(l[i]) - mx);
    // llama.cpp's float probabilities sum to 1 only to ~1e-6: renormalise so KL >= 0.
    double psum = 0;
    for (std::size_t i = 0; i < nv; ++i) psum += ref.probs[static_cast<std::size_t>(t) * nv + i];
    double kl = 0;
    for (std::size_t i = 0; i < nv; ++i) {
      const double p = ref.probs[static_cast<std::size_t>(t) * nv + i] / psum;
      if (p <= 0) continue;
      const double logq = double(l[i]) - mx - std::log(z);
      kl += p * (std::log(p) - logq);
    }
    total += kl;
  }
  return total / n;
}

inline std::vector<std::int32_t> greedy(Model& m, const std::vector<std::int32_t>& prompt, int n) {
  auto kv = m.new_kv_cache(static_cast<std::int32_t>(prompt.size()) + n + 1);
  std::vector<float> logits(static_cast<std::size_t>(m.config().n_vocab));
  std::vector<std::int32_t> out;
  std::vector<std::int32_t> feed = prompt;
  for (int i = 0; i < n; ++i) {
    const std::int32_t last = static_cast<std::int32_t>(feed.size()) - 1;
    Model::SequenceBatch b{kv->get(), feed, {&last, 1}, logits.data()};
    if (!m.forward({&b, 1})) break;
    const std::int32_t next = static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    out.push_back(next);
    feed = {next};
  }
  return out;
}

}  // namespace rapide::inference::reference
