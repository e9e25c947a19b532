// llama.cpp comparison on the real stories260K model (as shipped, and quantized by `rapide
// quantize` to F16, Q8_0, Q4_K and Q4_K_M) and the F16 llama-2-tiny-random (label integration):
// KL, greedy agreement, perplexity. See reference_support.h.
#include "reference_support.h"

namespace rapide::inference {
namespace {

using namespace rapide::inference::reference;

// How many of llama.cpp's 64 greedy tokens ours reproduce, in order.
int greedy_agreement(Model& m, const Reference& ref) {
  const auto prompt = ref.j.at("greedy_prompt").get<std::vector<std::int32_t>>();
  const auto want = ref.j.at("greedy").get<std::vector<std::int32_t>>();
  const auto got = greedy(m, prompt, 64);
  int agree = 0;
  while (agree < static_cast<int>(std::min(got.size(), want.size())) && got[agree] == want[agree]) ++agree;
  return agree;
}

// Our perplexity over the reference's tokens, chunked as llama-perplexity does (n_ctx 128).
Result<PerplexityResult> reference_perplexity(Model& m, const Reference& ref) {
  PerplexityOptions po;
  po.n_ctx = 128;
  po.bos = ref.j.at("add_bos").get<bool>() ? ref.j.at("tokens")[0].get<std::int32_t>() : -1;
  return compute_perplexity(m, ref.j.at("tokens").get<std::vector<std::int32_t>>(), po);
}

TEST(ReferenceLlamaCpp, Stories260KMatchesLlamaCpp) {
  RAPIDE_REQUIRE_SHARED(model_path, "models/stories260K.gguf");
  RAPIDE_REQUIRE_SHARED(text, "text/story.txt");
  RAPIDE_REQUIRE_NODE(node);
  const Reference ref = run_reference(*node, model_path, text, 256, 64, 128);
  ASSERT_FALSE(ref.j.is_null());
  auto m = load_model(model_path);
  ASSERT_TRUE(m);

  const double kl = mean_kl(*m, ref);
  EXPECT_LT(kl, 1e-3);

  const int agree = greedy_agreement(*m, ref);
  EXPECT_EQ(agree, 64);

  auto ppl = reference_perplexity(*m, ref);
  ASSERT_TRUE(ppl) << ppl.message();
  const double ref_ppl = ref.j.at("ppl").get<double>();
  EXPECT_LT(std::abs(ppl->ppl - ref_ppl), 5e-4 * ref_ppl);
  std::printf("stories260K: mean KL %.3g over %d positions, greedy agreement %d/64, PPL ours %.4f llama.cpp %.4f\n", kl,
              ref.j.at("positions").get<int>(), agree, ppl->ppl, ref_ppl);
  RecordProperty("kl", std::to_string(kl));
  RecordProperty("ppl", std::to_string(ppl->ppl));
  RecordProperty("ppl_llama_cpp", std::to_string(ref_ppl));
}

// The real model quantized by `rapide quantize` (stories260K's rows of 64 and 172 elements take
// llama.cpp's fallbacks: Q4_K -> Q5_0, and F16 where no block fits), compared with llama.cpp
// running the same quantized file: KL, greedy agreement, perplexity.
struct QuantCase {
  const char* type;
  double kl_limit;
};

class ReferenceStoriesQuantized : public ::testing::TestWithParam<QuantCase> {};

TEST_P(ReferenceStoriesQuantized, MatchesLlamaCpp) {
  RAPIDE_REQUIRE_SHARED(source, "models/stories260K.gguf");
  RAPIDE_REQUIRE_SHARED(text, "text/story.txt");
  RAPIDE_REQUIRE_NODE(node);
  const QuantCase& c = GetParam();
  TempDir tmp;
  const fs::path model_path = tmp.path() / (std::string("stories260K-") + c.type + ".gguf");
  auto q = run_process({RAPIDE_BINARY, "quantize", source.string(), model_path.string(), c.type});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  const Reference ref = run_reference(*node, model_path, text, 256, 64, 128);
  ASSERT_FALSE(ref.j.is_null());
  auto m = load_model(model_path);
  ASSERT_TRUE(m);
  const double kl = mean_kl(*m, ref);
  EXPECT_LT(kl, c.kl_limit);
  const int agree = greedy_agreement(*m, ref);
  EXPECT_EQ(agree, 64);
  auto ppl = reference_perplexity(*m, ref);
  ASSERT_TRUE(ppl) << ppl.message();
  const double ref_ppl = ref.j.at("ppl").get<double>();
  EXPECT_LT(std::abs(ppl->ppl - ref_ppl), 5e-3 * ref_ppl);
  std::printf("stories260K %s: mean KL %.3g over %d positions, greedy agreement %d/64, PPL ours %.4f llama.cpp %.4f\n",
              c.type, kl, ref.j.at("positions").get<int>(), agree, ppl->ppl, ref_ppl);
}

INSTANTIATE_TEST_SUITE_P(Stories260K, ReferenceStoriesQuantized,
                         ::testing::Values(QuantCase{"f16", 1e-3}, QuantCase{"q8_0", 1e-2}, QuantCase{"q4_k", 1e-2},
                                           QuantCase{"q4_k_m", 1e-2}),
                         [](const ::testing::TestParamInfo<QuantCase>& i) { return std::string(i.param.type); });

TEST(ReferenceLlamaCpp, Llama2TinyRandomF16MatchesLlamaCpp) {
  RAPIDE_REQUIRE_SHARED(model_path, "models/random/llama-2-tiny-random.gguf");
  RAPIDE_REQUIRE_SHARED(text, "text/story.txt");
  RAPIDE_REQUIRE_NODE(node);
  const Reference ref = run_reference(*node, model_path, text, 256, 0, 0);
  ASSERT_FALSE(ref.j.is_null());
  auto m = load_model(model_path);
  ASSERT_TRUE(m);
  const double kl = mean_kl(*m, ref);
  EXPECT_LT(kl, 1e-3);
  std::printf("llama-2-tiny-random (F16): mean KL %.3g over %d positions\n", kl, ref.j.at("positions").get<int>());
}


}  // namespace
}  // namespace rapide::inference
