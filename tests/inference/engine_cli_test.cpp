// `rapide generate` end to end on the real stories260K model: the JSON fields, identical greedy
// tokens with every speculation mode, prefix reuse through --warmup-prompt-file, and clear errors.
#include "test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

namespace rapide::testing {
namespace {

#ifdef RAPIDE_BINARY
nlohmann::json run_json(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {RAPIDE_BINARY, "generate"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--json");
  const ProcessResult r = run_process(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (r.exit_code != 0) return {};
  return nlohmann::json::parse(r.out);
}

TEST(EngineCli, GenerateJsonWithEachSpeculationModeGivesTheSameTokens) {
  RAPIDE_REQUIRE_SHARED(model, "models/stories260K.gguf");
  const std::vector<std::string> base = {"--model", model.string(), "--prompt", "Once upon a time, Tom", "-n", "40",
                                         "--threads", "1", "--ignore-eos"};
  const nlohmann::json plain = run_json(base);
  ASSERT_TRUE(plain.is_object());
  for (const char* key : {"tokens", "text", "prompt_tokens", "prefill_tps", "decode_tps", "prefilled_tokens",
                          "reused_tokens", "acceptance_rate", "mean_accepted_length", "forward_passes_per_token"})
    EXPECT_TRUE(plain.contains(key)) << key;
  EXPECT_EQ(plain.at("tokens").size(), 40u);
  EXPECT_FALSE(plain.at("text").get<std::string>().empty());
  auto ngram_args = base;
  ngram_args.insert(ngram_args.end(), {"--speculate", "ngram", "--draft-max", "6"});
  const nlohmann::json ngram = run_json(ngram_args);
  EXPECT_EQ(ngram.at("tokens"), plain.at("tokens"));
  EXPECT_EQ(ngram.at("speculate"), "ngram");
  // The cost policy is the default and says what it decided.
  EXPECT_EQ(ngram.at("draft_policy"), "cost");
  for (const char* key : {"passes_with_draft", "passes_without_draft", "skipped_drafts", "explored_drafts"})
    EXPECT_TRUE(ngram.contains(key)) << key;
  EXPECT_EQ(ngram.at("passes_with_draft").get<std::int64_t>() + ngram.at("passes_without_draft").get<std::int64_t>(),
            ngram.at("forward_passes").get<std::int64_t>());
  EXPECT_EQ(ngram.at("pass_cost_ms").size(), 7u);  // rows 1..draft_max+1
  auto cost_draft_args = base;
  cost_draft_args.insert(cost_draft_args.end(), {"--speculate", "draft", "--draft-model", model.string(), "--draft-max", "8"});
  const nlohmann::json cost_draft = run_json(cost_draft_args);
  EXPECT_EQ(cost_draft.at("tokens"), plain.at("tokens"));
  // The drafter's adaptive length always drafts: the model drafting for itself is always right.
  auto draft_args = base;
  draft_args.insert(draft_args.end(), {"--speculate", "draft", "--draft-model", model.string(), "--draft-max", "8",
                                       "--draft-policy", "adaptive"});
  const nlohmann::json draft = run_json(draft_args);
  EXPECT_EQ(draft.at("tokens"), plain.at("tokens"));
  EXPECT_DOUBLE_EQ(draft.at("acceptance_rate").get<double>(), 1.0);  // the model drafting for itself
  EXPECT_LT(draft.at("forward_passes_per_token").get<double>(), 0.5);
  EXPECT_GT(draft.at("mean_accepted_length").get<double>(), 1.0);
}

TEST(EngineCli, WarmupPromptShowsPrefixReuse) {
  RAPIDE_REQUIRE_SHARED(model, "models/stories260K.gguf");
  TempDir dir;
  std::string text;
  for (int i = 0; i < 30; ++i) text += "Lily went to the park with her mom. They played on the swings. ";
  const auto warm = dir.path() / "warm.txt";
  std::ofstream(warm) << text << "The end.";
  const nlohmann::json j = run_json({"--model", model.string(), "--prompt", text + "Then they went home.",
                                     "--warmup-prompt-file", warm.string(), "-n", "4", "--threads", "1"});
  ASSERT_TRUE(j.is_object());
  const int prompt = j.at("prompt_tokens").get<int>();
  const int reused = j.at("reused_tokens").get<int>();
  EXPECT_GT(prompt, 300);
  EXPECT_GT(reused, prompt - 12);
  EXPECT_EQ(j.at("prefilled_tokens").get<int>(), prompt - reused);
}

TEST(EngineCli, BadArgumentsGiveClearErrors) {
  RAPIDE_REQUIRE_SHARED(model, "models/stories260K.gguf");
  ProcessResult r = run_process({RAPIDE_BINARY, "generate", "--model", model.string(), "--prompt", "x", "--speculate", "magic"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("none, ngram or draft"), std::string::npos) << r.err;
  r = run_process({RAPIDE_BINARY, "generate", "--model", model.string(), "--prompt", "x", "--draft-policy", "magic"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--draft-policy"), std::string::npos) << r.err;
  r = run_process({RAPIDE_BINARY, "generate", "--model", model.string(), "--prompt", "x", "--speculate", "draft"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--draft-model"), std::string::npos) << r.err;
  r = run_process({RAPIDE_BINARY, "generate", "--model", model.string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--prompt"), std::string::npos) << r.err;
  r = run_process({RAPIDE_BINARY, "generate", "--model", "/nonexistent.gguf", "--prompt", "x"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("nonexistent"), std::string::npos) << r.err;
}
#endif

}  // namespace
}  // namespace rapide::testing
