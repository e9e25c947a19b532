// `rapide bench` end to end on tiny models made by `rapide make-model`: the JSON keys, sane
// figures (positive speeds, bytes per decoded token equal to the weights a dense model reads, only
// the routed experts for a MoE model, a bandwidth fraction in (0, 1.5)), the human table, and clear
// errors with exit code 1 for bad arguments.
#include "test_support.h"

#include "rapide/inference/gguf.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace rapide::testing {
namespace {

#ifdef RAPIDE_BINARY
std::filesystem::path make_tiny(const TempDir& dir, const std::string& arch, const std::filesystem::path& vocab) {
  const auto out = dir.path() / ("tiny-" + arch + ".gguf");
  const ProcessResult r = run_process({RAPIDE_BINARY, "make-model", "--preset", "tiny", "--arch", arch, "--type", "q8_0",
                                       "--vocab", vocab.string(), "--seed", "3", "-o", out.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return out;
}

nlohmann::json bench_json(const std::filesystem::path& model) {
  const ProcessResult r = run_process({RAPIDE_BINARY, "bench", "--model", model.string(), "-p", "64", "-n", "12", "--reps",
                                       "2", "--threads", "2", "--bandwidth-mib", "128", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (r.exit_code != 0) return {};
  return nlohmann::json::parse(r.out);
}

struct WeightBytes {
  double total = 0;    // every tensor the matmuls read (2-D and 3-D weights)
  double experts = 0;  // ffn_*_exps tensors
};

WeightBytes weight_bytes(const std::filesystem::path& path) {
  WeightBytes w;
  auto file = inference::gguf::GgufFile::open(path);
  EXPECT_TRUE(file.ok());
  if (!file.ok()) return w;
  for (const auto& t : (*file)->tensors()) {
    if (t.dims.size() < 2) continue;  // norms and biases are not matmul weights
    w.total += static_cast<double>(t.n_bytes);
    if (t.name.find("_exps.") != std::string::npos) w.experts += static_cast<double>(t.n_bytes);
  }
  return w;
}

TEST(BenchCli, DenseJsonHasTheKeysAndSaneFigures) {
  RAPIDE_REQUIRE_SHARED(vocab, "vocab/ggml-vocab-qwen2.gguf");
  TempDir dir;
  const auto model = make_tiny(dir, "qwen2", vocab);
  const nlohmann::json j = bench_json(model);
  ASSERT_TRUE(j.is_object());
  for (const char* key : {"prefill_tps", "decode_tps", "bytes_per_token", "bandwidth_gbps", "bandwidth_fraction",
                          "threads", "n_prompt", "n_gen", "model", "type", "cpu", "reps"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_GT(j.at("prefill_tps").get<double>(), 1.0);
  EXPECT_GT(j.at("decode_tps").get<double>(), 1.0);
  EXPECT_EQ(j.at("threads").get<int>(), 2);
  EXPECT_EQ(j.at("n_prompt").get<int>(), 64);
  EXPECT_EQ(j.at("n_gen").get<int>(), 12);
  EXPECT_EQ(j.at("reps").get<int>(), 2);
  EXPECT_EQ(j.at("prefill_tps_reps").size(), 2u);
  EXPECT_EQ(j.at("model").get<std::string>(), model.string());
  EXPECT_EQ(j.at("type").get<std::string>(), "Q8_0");
  EXPECT_FALSE(j.at("cpu").get<std::string>().empty());
  // A dense model reads every weight matrix once per token (the tied embedding as the output
  // matrix, plus one row of it for the input).
  const WeightBytes w = weight_bytes(model);
  const double bpt = j.at("bytes_per_token").get<double>();
  EXPECT_GT(bpt, 0.99 * w.total);
  EXPECT_LT(bpt, 1.01 * w.total);
  const double bw = j.at("bandwidth_gbps").get<double>();
  EXPECT_GT(bw, 0.5);
  EXPECT_LT(bw, 5000.0);
  const double fraction = j.at("bandwidth_fraction").get<double>();
  EXPECT_NEAR(fraction, j.at("decode_tps").get<double>() * bpt / (bw * 1e9), 1e-9);
  EXPECT_GT(fraction, 0.0);
  // The tiny model's ~40 MB fit partly in caches, so decode may beat the DRAM figure a little;
  // far above it would mean the byte count or the bandwidth is wrong.
  EXPECT_LT(fraction, 3.0);
}

TEST(BenchCli, MoeCountsOnlyTheActiveExperts) {
  RAPIDE_REQUIRE_SHARED(vocab, "vocab/ggml-vocab-qwen2.gguf");
  TempDir dir;
  const auto model = make_tiny(dir, "qwen3moe", vocab);  // 4 experts, top-2
  const nlohmann::json j = bench_json(model);
  ASSERT_TRUE(j.is_object());
  const WeightBytes w = weight_bytes(model);
  ASSERT_GT(w.experts, 0.0);
  // Each decoded token routes to exactly 2 distinct experts of 4 in every layer.
  EXPECT_NEAR(j.at("expert_bytes_per_token").get<double>(), 0.5 * w.experts, 0.001 * w.experts);
  EXPECT_NEAR(j.at("bytes_per_token").get<double>(), w.total - 0.5 * w.experts, 0.01 * w.total);
}

TEST(BenchCli, HumanOutputIsATable) {
  RAPIDE_REQUIRE_SHARED(vocab, "vocab/ggml-vocab-qwen2.gguf");
  TempDir dir;
  const auto model = make_tiny(dir, "qwen2", vocab);
  const ProcessResult r = run_process({RAPIDE_BINARY, "bench", "--model", model.string(), "-p", "16", "-n", "4",
                                       "--reps", "1", "--threads", "1", "--bandwidth-mib", "64"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("| pp16"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| tg4"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("read bandwidth"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("of the bandwidth"), std::string::npos) << r.out;
}

TEST(BenchCli, BadArgumentsGiveClearErrors) {
  RAPIDE_REQUIRE_SHARED(vocab, "vocab/ggml-vocab-qwen2.gguf");
  TempDir dir;
  const auto model = make_tiny(dir, "qwen2", vocab);
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{}, "--model F is required"},
      {{"--model", "/nonexistent/x.gguf"}, "/nonexistent/x.gguf"},
      {{"--model", model.string(), "-p", "abc"}, "-p/--n-prompt must be an integer in [0, 1048576], got 'abc'"},
      {{"--model", model.string(), "-n", "-3"}, "-n/--n-gen must be an integer"},
      {{"--model", model.string(), "--reps", "0"}, "--reps must be an integer in [1, 1000], got '0'"},
      {{"--model", model.string(), "--threads", "1.5"}, "--threads must be an integer"},
      {{"--model", model.string(), "-p", "0", "-n", "0"}, "nothing to measure"},
      {{"--model", vocab.string()}, "tensor"},  // a vocabulary-only file is not a model
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {RAPIDE_BINARY, "bench"};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    const ProcessResult r = run_process(argv);
    SCOPED_TRACE(c.message);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}
#endif

}  // namespace
}  // namespace rapide::testing
