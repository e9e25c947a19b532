// llama.cpp comparison on the real stories260K model and the F16 llama-2-tiny-random (label
// integration): KL, greedy agreement, perplexity. See reference_support.h.
#include "reference_support.h"

namespace rapide::inference {
namespace {

using namespace rapide::inference::reference;

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

  const auto prompt = ref.j.at("greedy_prompt").get<std::vector<std::int32_t>>();
  const auto want = ref.j.at("greedy").get<std::vector<std::int32_t>>();
  const auto got = greedy(*m, prompt, 64);
  int agree = 0;
  while (agree < static_cast<int>(std::min(got.size(), want.size())) && got[agree] == want[agree]) ++agree;
  EXPECT_EQ(agree, 64);

  PerplexityOptions po;
  po.n_ctx = 128;
  po.bos = ref.j.at("add_bos").get<bool>() ? ref.j.at("tokens")[0].get<std::int32_t>() : -1;
  const auto tokens = ref.j.at("tokens").get<std::vector<std::int32_t>>();
  auto ppl = compute_perplexity(*m, tokens, po);
  ASSERT_TRUE(ppl) << ppl.message();
  const double ref_ppl = ref.j.at("ppl").get<double>();
  EXPECT_LT(std::abs(ppl->ppl - ref_ppl), 5e-4 * ref_ppl);
  std::printf("stories260K: mean KL %.3g over %d positions, greedy agreement %d/64, PPL ours %.4f llama.cpp %.4f\n", kl,
              ref.j.at("positions").get<int>(), agree, ppl->ppl, ref_ppl);
  RecordProperty("kl", std::to_string(kl));
  RecordProperty("ppl", std::to_string(ppl->ppl));
  RecordProperty("ppl_llama_cpp", std::to_string(ref_ppl));
}

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
