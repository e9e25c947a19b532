// GGUF writer: write -> read round trips (every value type, arrays, alignment, streamed
// tensors), copying a real tokenizer, re-writing the real stories model (and llama.cpp loading
// the copy), and the writer's own errors.
#include "gguf_test_util.h"
#include "rapide/inference/gguf.h"
#include "rapide/inference/gguf_writer.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

namespace rapide::inference::gguf {
namespace {

using testing::build_sample_writer;
using testing::expect_same_value;

TEST(GgufWriter, RoundTripsEveryValueTypeAndTensor) {
  std::vector<std::uint8_t> scratch;
  GgufWriter w = build_sample_writer(scratch);
  WriteLayout layout;
  auto bytes = w.write_to_memory(&layout);
  ASSERT_TRUE(bytes) << bytes.message();
  EXPECT_EQ(layout.file_bytes, bytes->size());
  auto f = GgufFile::parse(*bytes);
  ASSERT_TRUE(f) << f.message();
  const GgufFile& g = **f;
  EXPECT_EQ(g.version(), 3u);
  EXPECT_EQ(g.alignment(), 64u);
  EXPECT_EQ(g.data_offset(), layout.data_offset);
  EXPECT_EQ(g.data_offset() % 64, 0u);
  ASSERT_EQ(g.metadata().size(), w.metadata_count());
  for (const KeyValue& kv : g.metadata()) {
    const Value* want = w.find(kv.key);
    ASSERT_NE(want, nullptr) << kv.key;
    expect_same_value(*want, kv.value, std::string(kv.key));
  }
  EXPECT_EQ(g.get_uint("test.u8"), 200u);
  EXPECT_EQ(g.get_int("test.i64"), -(std::int64_t{1} << 40));
  EXPECT_EQ(g.get_float("test.f32"), 0.5);
  EXPECT_EQ(g.get_bool("test.bool"), true);
  EXPECT_EQ(g.get_string("test.string"), "h\xC3\xA9llo");
  ASSERT_EQ(g.tensors().size(), 4u);
  for (std::size_t i = 0; i < g.tensors().size(); ++i) {
    const TensorInfo& t = g.tensors()[i];
    EXPECT_EQ(t.offset % 64, 0u) << t.name;
    EXPECT_EQ(g.data_offset() + t.offset, layout.tensor_data_offsets[i]) << t.name;
  }
  const TensorInfo* a = g.find_tensor("a.weight");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dims, (std::vector<std::int64_t>{3, 5}));
  EXPECT_EQ(a->type, TensorType::F32);
  auto ad = g.tensor_data(*a);
  ASSERT_EQ(ad.size(), 60u);
  EXPECT_EQ(std::memcmp(ad.data(), scratch.data(), 60), 0);
  const TensorInfo* q = g.find_tensor("q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->type, TensorType::Q8_0);
  EXPECT_EQ(q->dims, (std::vector<std::int64_t>{64, 3, 2}));
  auto qd = g.tensor_data(*q);
  ASSERT_EQ(qd.size(), 2u * 3u * 2u * 34u);
  for (std::size_t i = 0; i < qd.size(); ++i) ASSERT_EQ(qd[i], static_cast<std::uint8_t>(i * 7 + 1)) << i;
  const TensorInfo* e = g.find_tensor("empty");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->n_bytes, 0u);
}

TEST(GgufWriter, FileAndMemoryOutputsAreIdentical) {
  std::vector<std::uint8_t> scratch;
  GgufWriter w = build_sample_writer(scratch);
  auto mem = w.write_to_memory();
  ASSERT_TRUE(mem) << mem.message();
  rapide::testing::TempDir dir;
  const auto path = dir.path() / "sample.gguf";
  auto layout = w.write(path);
  ASSERT_TRUE(layout) << layout.message();
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".partial"));
  std::ifstream in(path, std::ios::binary);
  std::vector<std::uint8_t> disk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(disk, *mem);
  auto f = GgufFile::open(path);
  ASSERT_TRUE(f) << f.message();
  EXPECT_EQ((*f)->tensors().size(), 4u);
}

TEST(GgufWriter, DefaultAlignmentIs32) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  std::vector<std::uint8_t> data(4 * 7, 1);
  ASSERT_TRUE(w.add_tensor("x", TensorType::F32, {7}, data));
  ASSERT_TRUE(w.add_tensor("y", TensorType::F32, {7}, data));
  auto bytes = w.write_to_memory();
  ASSERT_TRUE(bytes) << bytes.message();
  auto f = GgufFile::parse(*bytes);
  ASSERT_TRUE(f) << f.message();
  EXPECT_EQ((*f)->alignment(), 32u);
  EXPECT_EQ((*f)->find_tensor("y")->offset, 32u);
  EXPECT_EQ((*f)->data_offset() % 32, 0u);
}

TEST(GgufWriter, RejectsBadInputWithClearErrors) {
  GgufWriter w;
  std::vector<std::uint8_t> data(64, 0);
  ASSERT_TRUE(w.add_tensor("t", TensorType::F32, {4}, std::span(data).first(16)));
  Status dup = w.add_tensor("t", TensorType::F32, {4}, std::span(data).first(16));
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.message().find("'t' added twice"), std::string::npos) << dup.message();
  Status block = w.add_tensor("q", TensorType::Q8_0, {31}, std::span(data).first(34));
  ASSERT_FALSE(block);
  EXPECT_NE(block.message().find("not a multiple of the Q8_0 block size 32"), std::string::npos) << block.message();
  Status size = w.add_tensor("s", TensorType::F32, {3}, std::span(data).first(16));
  ASSERT_FALSE(size);
  EXPECT_NE(size.message().find("16 bytes given, its type and shape need 12"), std::string::npos) << size.message();
  Status dims = w.add_tensor("d", TensorType::F32, {1, 1, 1, 1, 1}, std::span(data).first(4));
  ASSERT_FALSE(dims);
  EXPECT_NE(dims.message().find("5 dimensions"), std::string::npos) << dims.message();
  Status neg = w.add_tensor("n", TensorType::F32, {4, -1}, std::span(data).first(4));
  ASSERT_FALSE(neg);
  EXPECT_NE(neg.message().find("negative dimension -1"), std::string::npos) << neg.message();

  ASSERT_TRUE(w.add_tensor("p", TensorType::F32, {4}, [](const ByteSink& emit) -> Status {
    const std::uint8_t b[8] = {};
    return emit(b);
  }));
  auto short_producer = w.write_to_memory();
  ASSERT_FALSE(short_producer);
  EXPECT_NE(short_producer.message().find("tensor 'p': producer emitted 8 bytes, its type and shape need 16"), std::string::npos)
      << short_producer.message();

  GgufWriter a;
  a.set_uint32("general.alignment", 48);
  auto bad_align = a.write_to_memory();
  ASSERT_FALSE(bad_align);
  EXPECT_NE(bad_align.message().find("general.alignment must be a uint32 power of two, got 48"), std::string::npos)
      << bad_align.message();

  GgufWriter n;
  n.set_value("nested", Value::make_array(ValueType::ARRAY, {Value::make_array(ValueType::UINT8, {})}));
  auto nested = n.write_to_memory();
  ASSERT_FALSE(nested);
  EXPECT_NE(nested.message().find("arrays of arrays"), std::string::npos) << nested.message();

  GgufWriter io;
  auto bad_path = io.write("/nonexistent-dir/x.gguf");
  ASSERT_FALSE(bad_path);
  EXPECT_NE(bad_path.message().find("cannot create '/nonexistent-dir/x.gguf.partial'"), std::string::npos) << bad_path.message();
}

TEST(GgufWriter, SettingAKeyTwiceReplacesIt) {
  GgufWriter w;
  w.set_uint32("k", 1);
  w.set_string("other", "x");
  w.set_string("k", "now a string");
  ASSERT_EQ(w.metadata_count(), 2u);
  auto bytes = w.write_to_memory();
  ASSERT_TRUE(bytes) << bytes.message();
  auto f = GgufFile::parse(*bytes);
  ASSERT_TRUE(f) << f.message();
  EXPECT_EQ((*f)->metadata()[0].key, "k");
  EXPECT_EQ((*f)->get_string("k"), "now a string");
  EXPECT_TRUE(w.remove("k"));
  EXPECT_FALSE(w.remove("k"));
  EXPECT_EQ(w.metadata_count(), 1u);
}

TEST(GgufWriter, CopiesAWholeTokenizerFromAVocabFile) {
  RAPIDE_REQUIRE_SHARED(path, "vocab/ggml-vocab-qwen2.gguf");
  std::vector<std::uint8_t> bytes;
  {
    auto vocab = GgufFile::open(path);
    ASSERT_TRUE(vocab) << vocab.message();
    GgufWriter w;
    w.set_string("general.architecture", "qwen2");
    w.copy_metadata(**vocab, "tokenizer.");
    auto out = w.write_to_memory();
    ASSERT_TRUE(out) << out.message();
    bytes = std::move(*out);
  }  // the source file is closed: the writer's copy must not point into it
  auto vocab = GgufFile::open(path);
  ASSERT_TRUE(vocab) << vocab.message();
  auto copy = GgufFile::parse(bytes);
  ASSERT_TRUE(copy) << copy.message();
  std::size_t n_tokenizer_keys = 0;
  for (const KeyValue& kv : (*vocab)->metadata()) {
    if (!kv.key.starts_with("tokenizer.")) continue;
    ++n_tokenizer_keys;
    const Value* got = (*copy)->find(kv.key);
    ASSERT_NE(got, nullptr) << kv.key;
    expect_same_value(kv.value, *got, std::string(kv.key));
  }
  EXPECT_GE(n_tokenizer_keys, 5u);
  EXPECT_EQ((*copy)->metadata().size(), n_tokenizer_keys + 1);
  EXPECT_EQ((*copy)->find("tokenizer.ggml.tokens")->array().size(), 151936u);
}

// Re-writes the real trained model: every key and tensor copied through the writer. The copy
// reads back identical, and llama.cpp loads it and generates the same greedy tokens.
TEST(GgufWriter, RewritesTheStoriesModelSoLlamaCppLoadsIt) {
  RAPIDE_REQUIRE_SHARED(path, "models/stories260K.gguf");
  auto src = GgufFile::open(path);
  ASSERT_TRUE(src) << src.message();
  const GgufFile& g = **src;
  GgufWriter w(g.version());
  w.copy_metadata(g);
  for (const TensorInfo& t : g.tensors()) ASSERT_TRUE(w.add_tensor(t.name, t.type, t.dims, g.tensor_data(t)));
  rapide::testing::TempDir dir;
  const auto out = dir.path() / "stories-copy.gguf";
  auto layout = w.write(out);
  ASSERT_TRUE(layout) << layout.message();
  auto copy = GgufFile::open(out);
  ASSERT_TRUE(copy) << copy.message();
  const GgufFile& c = **copy;
  EXPECT_EQ(c.data_offset(), g.data_offset());
  EXPECT_EQ(c.file_bytes(), g.file_bytes());
  ASSERT_EQ(c.metadata().size(), g.metadata().size());
  for (std::size_t i = 0; i < g.metadata().size(); ++i) {
    EXPECT_EQ(c.metadata()[i].key, g.metadata()[i].key);
    expect_same_value(g.metadata()[i].value, c.metadata()[i].value, std::string(g.metadata()[i].key));
  }
  ASSERT_EQ(c.tensors().size(), g.tensors().size());
  for (std::size_t i = 0; i < g.tensors().size(); ++i) {
    const TensorInfo& a = g.tensors()[i];
    const TensorInfo& b = c.tensors()[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.type, b.type);
    EXPECT_EQ(a.dims, b.dims);
    EXPECT_EQ(a.offset, b.offset);
    auto da = g.tensor_data(a);
    auto db = c.tensor_data(b);
    ASSERT_EQ(da.size(), db.size());
    EXPECT_EQ(std::memcmp(da.data(), db.data(), da.size()), 0) << a.name;
  }

  auto original = testing::run_llama_reference(path, "Once upon a time", 8);
  if (!original.available) GTEST_SKIP() << original.why_not;
  auto rewritten = testing::run_llama_reference(out, "Once upon a time", 8);
  ASSERT_TRUE(rewritten.ok) << rewritten.raw;
  ASSERT_TRUE(original.ok) << original.raw;
  EXPECT_EQ(rewritten.json.at("n_vocab"), original.json.at("n_vocab"));
  EXPECT_EQ(rewritten.json.at("greedy"), original.json.at("greedy"));
  EXPECT_EQ(rewritten.json.at("greedy").size(), 8u);
}

}  // namespace
}  // namespace rapide::inference::gguf
