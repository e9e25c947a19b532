// Bad model files give a clear error naming the key or tensor, never a crash: one test per kind
// (unknown architecture, missing key, inconsistent hyperparameters, missing tensor, wrong shape,
// unsupported type, bad device), plus the real files in ../shared.
#include "model_builder.h"
#include "rapide/inference/model.h"
#include "test_support.h"

#include <gtest/gtest.h>

namespace rapide::inference {
namespace {

using testing::open_tiny;
using testing::TinySpec;

std::string load_error(const TinySpec& spec, LoadOptions opts = {}) {
  opts.n_threads = opts.n_threads ? opts.n_threads : 1;
  auto m = Model::load(open_tiny(spec), opts);
  if (m) return "(loaded)";
  return m.message();
}

#define EXPECT_HAS(haystack, needle) EXPECT_NE((haystack).find(needle), std::string::npos) << (haystack)

TEST(ModelLoadErrors, UnknownArchitecture) {
  TinySpec s;
  s.arch = "gpt2";
  const std::string e = load_error(s);
  EXPECT_HAS(e, "general.architecture 'gpt2' is not supported");
  EXPECT_HAS(e, "llama, qwen2, qwen3, qwen3moe");
}

TEST(ModelLoadErrors, MissingHyperparameterKey) {
  TinySpec s;
  s.arch = "qwen2";
  s.drop_keys = {"qwen2.block_count"};
  EXPECT_HAS(load_error(s), "qwen2.block_count: missing");
  TinySpec e;
  e.drop_keys = {"llama.attention.layer_norm_rms_epsilon"};
  EXPECT_HAS(load_error(e), "llama.attention.layer_norm_rms_epsilon: missing");
}

TEST(ModelLoadErrors, InconsistentHyperparameters) {
  TinySpec s;
  s.uint_keys = {{"llama.attention.head_count_kv", 3}};
  EXPECT_HAS(load_error(s), "is not a multiple of llama.attention.head_count_kv (3)");
  TinySpec moe;
  moe.arch = "qwen3moe";
  moe.n_expert = 4;
  moe.n_expert_used = 2;
  moe.n_ff_exp = 16;
  moe.uint_keys = {{"qwen3moe.expert_used_count", 5}};
  EXPECT_HAS(load_error(moe), "qwen3moe.expert_used_count: 5 is more than expert_count 4");
  TinySpec zero;
  zero.uint_keys = {{"llama.embedding_length", 0}};
  EXPECT_HAS(load_error(zero), "llama.embedding_length: value 0 is out of range");
}

TEST(ModelLoadErrors, MissingTensor) {
  TinySpec s;
  s.arch = "qwen2";
  s.drop_tensors = {"blk.1.attn_k.bias"};
  EXPECT_HAS(load_error(s), "tensor 'blk.1.attn_k.bias': missing (required by the qwen2 architecture)");
  TinySpec q3;
  q3.arch = "qwen3";
  q3.drop_tensors = {"blk.0.attn_q_norm.weight"};
  EXPECT_HAS(load_error(q3), "tensor 'blk.0.attn_q_norm.weight': missing");
  TinySpec emb;
  emb.drop_tensors = {"token_embd.weight"};
  EXPECT_HAS(load_error(emb), "tensor 'token_embd.weight': missing");
}

TEST(ModelLoadErrors, WrongShape) {
  TinySpec s;
  s.edit_shapes = [](auto& shapes) { shapes["blk.1.ffn_up.weight"] = {32, 40}; };
  EXPECT_HAS(load_error(s), "tensor 'blk.1.ffn_up.weight': shape [32,40], hyperparameters imply [32,48]");
  TinySpec moe;
  moe.arch = "qwen3moe";
  moe.n_expert = 4;
  moe.n_expert_used = 2;
  moe.n_ff_exp = 16;
  moe.edit_shapes = [](auto& shapes) { shapes["blk.0.ffn_down_exps.weight"] = {16, 32, 3}; };
  EXPECT_HAS(load_error(moe), "tensor 'blk.0.ffn_down_exps.weight': shape [16,32,3], hyperparameters imply [16,32,4]");
}

TEST(ModelLoadErrors, UnsupportedType) {
  TinySpec s;
  s.type_override = {{"blk.0.attn_v.weight", TensorType::Q8_1}};
  EXPECT_HAS(load_error(s), "tensor 'blk.0.attn_v.weight': type Q8_1 is not supported by the CPU backend");
  TinySpec norm;
  norm.type_override = {{"output_norm.weight", TensorType::F16}};
  EXPECT_HAS(load_error(norm), "tensor 'output_norm.weight': type F16 is not supported for norm/bias vectors");
}

TEST(ModelLoadErrors, UnknownDevice) {
  TinySpec s;
  LoadOptions o;
  o.device = "tpu";
  EXPECT_HAS(load_error(s, o), "device 'tpu' is not available");
}

TEST(ModelLoadErrors, VocabOnlyFileIsRejected) {
  RAPIDE_REQUIRE_SHARED(path, "vocab/ggml-vocab-qwen2.gguf");
  auto f = gguf::GgufFile::open(path);
  ASSERT_TRUE(f) << f.message();
  auto m = Model::load(*f, {});
  ASSERT_FALSE(m);
  EXPECT_HAS(m.message(), "tensor 'token_embd.weight': missing");
}

TEST(ModelLoad, RealModelsLoad) {
  RAPIDE_REQUIRE_SHARED(stories, "models/stories260K.gguf");
  RAPIDE_REQUIRE_SHARED(random, "models/random/llama-2-tiny-random.gguf");
  for (const auto& p : {stories, random}) {
    auto f = gguf::GgufFile::open(p);
    ASSERT_TRUE(f) << f.message();
    auto m = Model::load(*f, {});
    ASSERT_TRUE(m) << p << ": " << m.message();
  }
  auto f = gguf::GgufFile::open(stories);
  auto m = Model::load(*f, {});
  const ModelConfig& c = (*m)->config();
  EXPECT_EQ(c.arch, "llama");
  EXPECT_EQ(c.n_vocab, 512);
  EXPECT_EQ(c.n_layer, 5);
  EXPECT_EQ(c.n_head_kv, 4);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_FALSE(c.tied_output);  // stories260K has its own output.weight
}

}  // namespace
}  // namespace rapide::inference
