#include "rapide/inference/gguf.h"
#include "test_support.h"

#include <gtest/gtest.h>

namespace rapide::inference::gguf {
namespace {

TEST(GgufReader, OpensTheRealStoriesModel) {
  RAPIDE_REQUIRE_SHARED(path, "models/stories260K.gguf");
  auto f = GgufFile::open(path);
  ASSERT_TRUE(f) << f.message();
  const GgufFile& g = **f;
  EXPECT_EQ(g.version(), 3u);
  EXPECT_EQ(g.architecture(), "llama");
  EXPECT_EQ(g.metadata().size(), 19u);
  EXPECT_EQ(g.tensors().size(), 48u);
  EXPECT_EQ(g.data_offset(), 14176u);
  EXPECT_EQ(g.get_uint("llama.block_count"), 5u);
  EXPECT_EQ(g.get_uint("llama.embedding_length"), 64u);
  EXPECT_EQ(g.get_uint("llama.attention.head_count_kv"), 4u);
  const Value* tokens = g.find("tokenizer.ggml.tokens");
  ASSERT_NE(tokens, nullptr);
  ASSERT_EQ(tokens->array().size(), 512u);
  EXPECT_EQ(tokens->array()[1].as_string(), "<s>");
  const TensorInfo* down = g.find_tensor("blk.0.ffn_down.weight");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->dims, (std::vector<std::int64_t>{172, 64}));
  EXPECT_EQ(down->type, TensorType::F32);
  EXPECT_EQ(down->n_bytes, 172u * 64u * 4u);
  EXPECT_EQ(g.tensor_data(*down).size(), down->n_bytes);
}

TEST(GgufReader, RejectsVersionOneWithAClearMessage) {
  RAPIDE_REQUIRE_SHARED(path, "models/legacy/tinyllamas-stories-260k-f32.gguf");
  auto f = GgufFile::open(path);
  ASSERT_FALSE(f);
  EXPECT_NE(f.message().find("version 1"), std::string::npos) << f.message();
}

TEST(GgufReader, OpensVocabOnlyFiles) {
  RAPIDE_REQUIRE_SHARED(path, "vocab/ggml-vocab-qwen2.gguf");
  auto f = GgufFile::open(path);
  ASSERT_TRUE(f) << f.message();
  EXPECT_TRUE((*f)->tensors().empty());
  EXPECT_EQ((*f)->get_string("tokenizer.ggml.pre"), "qwen2");
  EXPECT_EQ((*f)->find("tokenizer.ggml.tokens")->array().size(), 151936u);
}

TEST(GgufReader, MissingFileIsAnError) {
  auto f = GgufFile::open("/nonexistent/model.gguf");
  ASSERT_FALSE(f);
  EXPECT_NE(f.message().find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace rapide::inference::gguf
