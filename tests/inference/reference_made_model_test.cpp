// llama.cpp comparison on `rapide make-model --preset tiny` files for every architecture at F32,
// F16, Q8_0 and Q4_K (label slow: 16 node runs). See reference_support.h.
#include "reference_support.h"

namespace rapide::inference {
namespace {

using namespace rapide::inference::reference;

// Generated models: `rapide make-model --preset tiny` per architecture and weight type.
struct MadeCase {
  const char* arch;
  const char* type;
  double kl_limit;
};

class ReferenceMadeModel : public ::testing::TestWithParam<MadeCase> {};

TEST_P(ReferenceMadeModel, MatchesLlamaCpp) {
  RAPIDE_REQUIRE_SHARED(vocab, "vocab/ggml-vocab-qwen2.gguf");
  RAPIDE_REQUIRE_SHARED(text, "text/story.txt");
  RAPIDE_REQUIRE_NODE(node);
#ifndef RAPIDE_BINARY
  GTEST_SKIP() << "the rapide binary is not built in this configuration";
#else
  const MadeCase& c = GetParam();
  TempDir tmp;
  const fs::path model_path = tmp.path() / (std::string(c.arch) + "-" + c.type + ".gguf");
  auto made = run_process({RAPIDE_BINARY, "make-model", "--preset", "tiny", "--arch", c.arch, "--type", c.type, "--vocab",
                           vocab.string(), "--seed", "7", "-o", model_path.string()});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const Reference ref = run_reference(*node, model_path, text, 256, 0, 0);
  ASSERT_FALSE(ref.j.is_null());
  auto m = load_model(model_path);
  ASSERT_TRUE(m);
  const double kl = mean_kl(*m, ref);
  EXPECT_LT(kl, c.kl_limit);
  std::printf("make-model tiny %s %s: mean KL %.3g over %d positions\n", c.arch, c.type, kl,
              ref.j.at("positions").get<int>());
#endif
}

std::vector<MadeCase> made_cases() {
  std::vector<MadeCase> v;
  for (const char* arch : {"llama", "qwen2", "qwen3", "qwen3moe"})
    for (const auto& [type, limit] : {std::pair{"f32", 1e-3}, {"f16", 1e-3}, {"q8_0", 1e-2}, {"q4_k", 1e-2}})
      v.push_back({arch, type, limit});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Tiny, ReferenceMadeModel, ::testing::ValuesIn(made_cases()),
                         [](const ::testing::TestParamInfo<MadeCase>& i) {
                           return std::string(i.param.arch) + "_" + i.param.type;
                         });


}  // namespace
}  // namespace rapide::inference
