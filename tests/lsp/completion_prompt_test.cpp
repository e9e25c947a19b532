// The inline-completion prompt is the engine's FIM template (no second FIM builder in lsp/):
// repository-level layout on the Qwen2 vocabulary with the template's stop tokens; a plain FIM
// vocabulary keeps the other files as comments in the prefix; a vocabulary without FIM tokens
// gets BOS + other files as comments + prefix.
#include "rapide/inference/engine/fim.h"
#include "rapide/inference/gguf.h"
#include "rapide/lsp/completion_prompt.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace rapide::lsp {
namespace {

namespace eng = inference::engine;

std::shared_ptr<const inference::Tokenizer> load_tokenizer(const std::filesystem::path& p) {
  auto f = inference::gguf::GgufFile::open(p);
  EXPECT_TRUE(f) << f.message();
  if (!f) return nullptr;
  auto t = inference::Tokenizer::from_gguf(**f);
  EXPECT_TRUE(t) << t.message();
  return t ? *t : nullptr;
}

context::CompletionContext sample_context() {
  context::CompletionContext ctx;
  ctx.path = "src/math.py";
  ctx.language = "python";
  ctx.comment_prefix = "#";
  ctx.cross_file = {{"src/util.py", "def helper():\n    pass"}};
  ctx.prefix = "def add(a, b):\n    return ";
  ctx.suffix = "\n\nprint(add(1, 2))\n";
  return ctx;
}

bool contains(const std::vector<std::int32_t>& v, std::int32_t id) { return std::find(v.begin(), v.end(), id) != v.end(); }

TEST(CompletionPrompt, QwenUsesTheEngineRepositoryTemplate) {
  RAPIDE_REQUIRE_SHARED(vocab, "vocab/ggml-vocab-qwen2.gguf");
  auto tok = load_tokenizer(vocab);
  ASSERT_TRUE(tok);
  const auto ctx = sample_context();
  const CompletionPrompt p = build_completion_prompt(tok, ctx);
  EXPECT_TRUE(p.fim);
  auto t = eng::FimTemplate::from_tokenizer(tok);
  ASSERT_TRUE(t);
  ASSERT_EQ(t->format(), eng::FimFormat::QWEN_REPO);
  eng::FimInput in;
  in.prefix = ctx.prefix;
  in.suffix = ctx.suffix;
  in.file_path = ctx.path;
  in.other_files = {{"src/util.py", "def helper():\n    pass"}};
  EXPECT_EQ(p.tokens, t->build(in, eng::FimOrder::PSM).tokens);
  EXPECT_EQ(p.stop_tokens, t->stop_tokens());
  EXPECT_TRUE(contains(p.tokens, tok->find_token("<|repo_name|>")));
  EXPECT_TRUE(contains(p.stop_tokens, tok->find_token("<|file_sep|>")));
  EXPECT_EQ(p.tokens.back(), tok->fim_mid());
}

TEST(CompletionPrompt, PlainFimKeepsOtherFilesAsComments) {
  RAPIDE_REQUIRE_SHARED(vocab, "vocab/ggml-vocab-deepseek-coder.gguf");
  auto tok = load_tokenizer(vocab);
  ASSERT_TRUE(tok);
  auto t = eng::FimTemplate::from_tokenizer(tok);
  if (!t) GTEST_SKIP() << "this deepseek-coder vocabulary has no FIM tokens: " << t.message();
  if (t->repo_level()) GTEST_SKIP() << "repository-level vocabulary";
  const auto ctx = sample_context();
  const CompletionPrompt p = build_completion_prompt(tok, ctx);
  eng::FimInput in;
  const std::string prefix = "# src/util.py\ndef helper():\n    pass\n" + ctx.prefix;
  in.prefix = prefix;
  in.suffix = ctx.suffix;
  EXPECT_EQ(p.tokens, t->build(in, eng::FimOrder::PSM).tokens);
  EXPECT_TRUE(p.fim);
}

TEST(CompletionPrompt, WithoutFimTokensPrefixOnly) {
  RAPIDE_REQUIRE_SHARED(vocab, "vocab/ggml-vocab-llama-spm.gguf");
  auto tok = load_tokenizer(vocab);
  ASSERT_TRUE(tok);
  ASSERT_LT(tok->fim_pre(), 0);
  const auto ctx = sample_context();
  const CompletionPrompt p = build_completion_prompt(tok, ctx);
  EXPECT_FALSE(p.fim);
  EXPECT_TRUE(p.stop_tokens.empty());
  std::vector<std::int32_t> expected;
  if (tok->add_bos()) expected.push_back(tok->bos());
  const auto body = tok->encode("# src/util.py\ndef helper():\n    pass\n" + ctx.prefix, false, false);
  expected.insert(expected.end(), body.begin(), body.end());
  EXPECT_EQ(p.tokens, expected);
}

}  // namespace
}  // namespace rapide::lsp
