// bench/compare.mjs end to end on a tiny `rapide make-model` file: two alternating rounds of
// `rapide bench` and llama.cpp (node-llama-cpp), the JSON summary (medians, ratios, per-round
// figures, the llama-bench reference marked not comparable at other sizes), the human table, and
// its argument errors. Skips with the reason when node or bench/reference/node_modules is missing.
#include "reference_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace rapide::inference::reference {
namespace {

#ifdef RAPIDE_BINARY
fs::path compare_script() { return fs::path(RAPIDE_SOURCE_DIR) / "bench" / "compare.mjs"; }

fs::path make_tiny(const TempDir& dir, const fs::path& vocab) {
  const fs::path out = dir.path() / "tiny-q8_0.gguf";
  const auto r = run_process({RAPIDE_BINARY, "make-model", "--preset", "tiny", "--arch", "qwen2", "--type", "q8_0",
                              "--vocab", vocab.string(), "--seed", "5", "-o", out.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return out;
}

TEST(BenchCompare, TwoAlternatingRoundsGiveRatiosOfMedians) {
  RAPIDE_REQUIRE_NODE(node);
  RAPIDE_REQUIRE_SHARED(vocab, "vocab/ggml-vocab-qwen2.gguf");
  TempDir dir;
  const fs::path model = make_tiny(dir, vocab);
  const auto r = run_process({node->string(), compare_script().string(), "--model", model.string(), "--rapide",
                              RAPIDE_BINARY, "-p", "32", "-n", "8", "--threads", "1", "--rounds", "2", "--reps", "1",
                              "--bandwidth-mib", "64", "--json"},
                             {}, 300);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("n_prompt").get<int>(), 32);
  EXPECT_EQ(j.at("n_gen").get<int>(), 8);
  EXPECT_EQ(j.at("threads").get<int>(), 1);
  EXPECT_EQ(j.at("type").get<std::string>(), "Q8_0");
  const auto& rounds = j.at("per_round");
  ASSERT_EQ(rounds.size(), 2u);
  EXPECT_EQ(rounds.at(0).at("first").get<std::string>(), "rapide");
  EXPECT_EQ(rounds.at(1).at("first").get<std::string>(), "llama.cpp");
  for (const auto& round : rounds) {
    EXPECT_EQ(round.at("rapide").at("n_prompt").get<int>(), 32);
    EXPECT_EQ(round.at("llama_cpp").at("n_prompt").get<int>(), 32);
    EXPECT_EQ(round.at("llama_cpp").at("n_gen").get<int>(), 8);
    EXPECT_GT(round.at("llama_cpp").at("decode_tps").get<double>(), 0.0);
  }
  for (const char* side : {"rapide", "llama_cpp"})
    for (const char* key : {"prefill_tps", "decode_tps"}) EXPECT_GT(j.at(side).at(key).get<double>(), 0.0) << side << key;
  // The ratio is of the medians over rounds (two rounds: the mean of the two).
  const double r0 = rounds.at(0).at("rapide").at("decode_tps").get<double>();
  const double r1 = rounds.at(1).at("rapide").at("decode_tps").get<double>();
  EXPECT_NEAR(j.at("rapide").at("decode_tps").get<double>(), (r0 + r1) / 2, 1e-9 * (r0 + r1));
  EXPECT_NEAR(j.at("ratio").at("decode").get<double>(),
              j.at("rapide").at("decode_tps").get<double>() / j.at("llama_cpp").at("decode_tps").get<double>(), 1e-9);
  EXPECT_NEAR(j.at("ratio").at("prefill").get<double>(),
              j.at("rapide").at("prefill_tps").get<double>() / j.at("llama_cpp").at("prefill_tps").get<double>(), 1e-9);
  // make-model writes general.file_type Q8_0: the llama-bench figure is shown, but these
  // sizes are not the ones it was measured at.
  const auto& ref = j.at("llama_bench_reference");
  ASSERT_TRUE(ref.is_object());
  EXPECT_DOUBLE_EQ(ref.at("prefill_tps").get<double>(), 75.0);
  EXPECT_DOUBLE_EQ(ref.at("decode_tps").get<double>(), 16.6);
  EXPECT_FALSE(ref.at("comparable").get<bool>());
  EXPECT_EQ(j.at("load_before").size(), 3u);
}

TEST(BenchCompare, HumanOutputAndArgumentErrors) {
  RAPIDE_REQUIRE_NODE(node);
  RAPIDE_REQUIRE_SHARED(vocab, "vocab/ggml-vocab-qwen2.gguf");
  TempDir dir;
  const fs::path model = make_tiny(dir, vocab);
  auto r = run_process({node->string(), compare_script().string(), "--model", model.string(), "--rapide", RAPIDE_BINARY,
                        "-p", "16", "-n", "4", "--threads", "1", "--rounds", "1", "--bandwidth-mib", "64"},
                       {}, 300);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* part : {"| round |", "ratio      prefill", "reference  llama-bench", "NOT comparable", "load       "})
    EXPECT_NE(r.out.find(part), std::string::npos) << part << "\n" << r.out;

  r = run_process({node->string(), compare_script().string(), "--rapide", RAPIDE_BINARY});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--model F is required"), std::string::npos) << r.err;
  r = run_process({node->string(), compare_script().string(), "--model", model.string(), "--rounds", "0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--rounds must be an integer >= 1, got '0'"), std::string::npos) << r.err;
  r = run_process({node->string(), compare_script().string(), "--model", (dir.path() / "missing.gguf").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  // A failing side is reported with its own message.
  r = run_process({node->string(), compare_script().string(), "--model", model.string(), "--rapide", "/nonexistent/rapide",
                   "-p", "8", "-n", "2", "--rounds", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("rapide bench failed"), std::string::npos) << r.err;
}
#endif

}  // namespace
}  // namespace rapide::inference::reference
