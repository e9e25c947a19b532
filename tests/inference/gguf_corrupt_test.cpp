// The GGUF reader against a corpus of corrupt files, each made here from one valid file written
// by GgufWriter: truncations (every section boundary and random offsets), huge counts and
// lengths, bad types, bad dims, bad offsets, duplicates, bad alignment, nested arrays. Every
// case must be rejected with a message naming the problem; none may crash.
#include "rapide/inference/gguf.h"
#include "rapide/inference/gguf_writer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace rapide::inference::gguf {
namespace {

// The valid base file and where its fields are.
struct Base {
  std::vector<std::uint8_t> bytes;
  WriteLayout layout;
  std::vector<std::uint8_t> f32_data = std::vector<std::uint8_t>(4 * 8 * 4, 0x3f);
  std::vector<std::uint8_t> q8_data = std::vector<std::uint8_t>(2 * 34, 0x11);
  std::vector<std::uint8_t> last_data = std::vector<std::uint8_t>(32, 0x22);

  // Key order (indexes into layout.kv_offsets).
  static constexpr std::size_t kArch = 0, kAlign = 1, kName = 2, kTokens = 3, kScores = 4, kDupA = 5, kDupB = 6, kFlag = 7;
  static constexpr const char* kKeys[] = {"general.architecture", "general.alignment", "general.name", "tokenizer.ggml.tokens",
                                          "tokenizer.ggml.scores", "dup.aaa", "dup.bbb", "test.flag"};
  // Tensor order.
  static constexpr const char* kTensors[] = {"t0.weight", "t1.weight", "t2.weight"};
  static constexpr std::uint32_t kTensorDims[] = {2, 2, 1};

  Base() {
    GgufWriter w;
    w.set_string("general.architecture", "llama");
    w.set_uint32("general.alignment", 32);
    w.set_string("general.name", "corpus");
    w.set_string_array("tokenizer.ggml.tokens", {"<s>", "</s>", "a", "b"});
    w.set_value("tokenizer.ggml.scores", Value::make_array(ValueType::FLOAT32, {Value::make_float(ValueType::FLOAT32, 0),
                                                                                 Value::make_float(ValueType::FLOAT32, -1)}));
    w.set_uint32("dup.aaa", 1);
    w.set_uint32("dup.bbb", 2);
    w.set_bool("test.flag", true);
    EXPECT_TRUE(w.add_tensor("t0.weight", TensorType::F32, {8, 4}, f32_data));
    EXPECT_TRUE(w.add_tensor("t1.weight", TensorType::Q8_0, {32, 2}, q8_data));
    EXPECT_TRUE(w.add_tensor("t2.weight", TensorType::F32, {8}, last_data));  // 32 bytes: no padding after it
    auto b = w.write_to_memory(&layout);
    EXPECT_TRUE(b) << b.message();
    bytes = std::move(*b);
  }

  std::uint64_t kv(std::size_t i) const { return layout.kv_offsets[i]; }
  std::uint64_t kv_type(std::size_t i) const { return kv(i) + 8 + std::strlen(kKeys[i]); }
  std::uint64_t kv_value(std::size_t i) const { return kv_type(i) + 4; }
  std::uint64_t ti(std::size_t i) const { return layout.tensor_info_offsets[i]; }
  std::uint64_t ti_ndims(std::size_t i) const { return ti(i) + 8 + std::strlen(kTensors[i]); }
  std::uint64_t ti_dim(std::size_t i, std::size_t d) const { return ti_ndims(i) + 4 + 8 * d; }
  std::uint64_t ti_type(std::size_t i) const { return ti_dim(i, kTensorDims[i]); }
  std::uint64_t ti_offset(std::size_t i) const { return ti_type(i) + 4; }
};

const Base& base() {
  static const Base b;
  return b;
}

template <class T>
std::vector<std::uint8_t> patched(std::uint64_t at, T value) {
  std::vector<std::uint8_t> b = base().bytes;
  std::memcpy(b.data() + at, &value, sizeof(T));
  return b;
}

// Parses and expects a failure whose message contains every one of `needles`.
void expect_rejected(const std::vector<std::uint8_t>& bytes, std::initializer_list<std::string> needles, const std::string& what) {
  auto f = GgufFile::parse(bytes, "corpus.gguf");
  ASSERT_FALSE(f) << what << ": a corrupt file was accepted";
  EXPECT_EQ(f.message().rfind("corpus.gguf: ", 0), 0u) << what << ": " << f.message();
  for (const std::string& n : needles) EXPECT_NE(f.message().find(n), std::string::npos) << what << ": got \"" << f.message() << "\", expected it to contain \"" << n << "\"";
}

TEST(GgufCorrupt, BaseFileIsValid) {
  auto f = GgufFile::parse(base().bytes);
  ASSERT_TRUE(f) << f.message();
  EXPECT_EQ((*f)->tensors().size(), 3u);
  EXPECT_EQ((*f)->metadata().size(), 8u);
  EXPECT_EQ(base().layout.file_bytes, base().bytes.size());
  // The base file ends exactly where the last tensor's bytes end, so every shorter prefix is
  // missing something.
  EXPECT_EQ(base().layout.tensor_data_offsets.back() + 32, base().bytes.size());
}

TEST(GgufCorrupt, TruncationAtEverySectionBoundary) {
  const Base& b = base();
  std::set<std::uint64_t> cuts = {0, 1, 3, 4, 7, 8, 15, 16, 23, b.layout.header_end, b.layout.tensor_infos_end, b.layout.data_offset,
                                  b.bytes.size() - 1};
  for (std::size_t i = 0; i < std::size(Base::kKeys); ++i) {
    cuts.insert(b.kv(i));
    cuts.insert(b.kv(i) + 4);      // inside the key length
    cuts.insert(b.kv(i) + 9);      // inside the key
    cuts.insert(b.kv_type(i));     // before the value type
    cuts.insert(b.kv_value(i));    // before the value
    cuts.insert(b.kv_value(i) + 1);
  }
  for (std::size_t i = 0; i < std::size(Base::kTensors); ++i) {
    cuts.insert(b.ti(i));
    cuts.insert(b.ti_ndims(i));
    cuts.insert(b.ti_dim(i, 0));
    cuts.insert(b.ti_type(i));
    cuts.insert(b.ti_offset(i));
    cuts.insert(b.ti_offset(i) + 8);
    cuts.insert(b.layout.tensor_data_offsets[i]);
    cuts.insert(b.layout.tensor_data_offsets[i] + 1);
  }
  for (std::uint64_t cut : cuts) {
    ASSERT_LT(cut, b.bytes.size());
    std::vector<std::uint8_t> t(b.bytes.begin(), b.bytes.begin() + static_cast<std::ptrdiff_t>(cut));
    expect_rejected(t, {"truncated"}, "cut at " + std::to_string(cut));
  }
}

TEST(GgufCorrupt, TruncationAtRandomOffsets) {
  const Base& b = base();
  std::mt19937_64 rng(1234);
  for (int i = 0; i < 300; ++i) {
    const std::uint64_t cut = rng() % b.bytes.size();
    std::vector<std::uint8_t> t(b.bytes.begin(), b.bytes.begin() + static_cast<std::ptrdiff_t>(cut));
    expect_rejected(t, {"truncated"}, "cut at " + std::to_string(cut));
  }
}

TEST(GgufCorrupt, HugeCounts) {
  expect_rejected(patched<std::uint64_t>(8, std::uint64_t{1} << 62), {"offset 8", "tensor count 4611686018427387904", "cannot fit"}, "tensors");
  expect_rejected(patched<std::uint64_t>(16, ~std::uint64_t{0}), {"offset 16", "metadata count 18446744073709551615", "cannot fit"}, "kvs");
  // Plausible but too many: the reader runs out of bytes.
  expect_rejected(patched<std::uint64_t>(16, 9), {"truncated"}, "one kv too many");
  // The 4th tensor info is read from the zero padding before the data.
  expect_rejected(patched<std::uint64_t>(8, 4), {"tensor 3 has an empty name"}, "one tensor too many");
}

TEST(GgufCorrupt, HugeStringAndArrayLengths) {
  const Base& b = base();
  expect_rejected(patched<std::uint64_t>(b.kv(Base::kArch), std::uint64_t{1} << 60),
                  {"offset " + std::to_string(b.kv(Base::kArch)), "metadata key length 1152921504606846976", "exceeds"}, "key length");
  expect_rejected(patched<std::uint64_t>(b.kv_value(Base::kName), ~std::uint64_t{0}), {"string value length", "exceeds"}, "string value");
  // tokenizer.ggml.tokens: element type (u32) then length (u64).
  expect_rejected(patched<std::uint64_t>(b.kv_value(Base::kTokens) + 4, std::uint64_t{1} << 61),
                  {"key 'tokenizer.ggml.tokens'", "array of 2305843009213693952 string values cannot fit"}, "array length");
  expect_rejected(patched<std::uint64_t>(b.kv_value(Base::kScores) + 4, 1000), {"key 'tokenizer.ggml.scores'", "cannot fit"},
                  "float array length");
  // A string inside the array claims more bytes than the file holds.
  expect_rejected(patched<std::uint64_t>(b.kv_value(Base::kTokens) + 12, std::uint64_t{1} << 40), {"string value length", "exceeds"},
                  "array element string");
  expect_rejected(patched<std::uint64_t>(b.ti(1), 1u << 31), {"tensor name length", "exceeds"}, "tensor name length");
}

TEST(GgufCorrupt, BadValueTypes) {
  const Base& b = base();
  expect_rejected(patched<std::uint32_t>(b.kv_type(Base::kName), 13), {"key 'general.name'", "unknown value type 13"}, "value type");
  expect_rejected(patched<std::uint32_t>(b.kv_type(Base::kName), 0xffffffffu), {"unknown value type 4294967295"}, "value type max");
  expect_rejected(patched<std::uint32_t>(b.kv_value(Base::kTokens), 99), {"key 'tokenizer.ggml.tokens'", "unknown array element type 99"},
                  "element type");
  expect_rejected(patched<std::uint8_t>(b.kv_value(Base::kFlag), 2), {"key 'test.flag'", "bool value 2"}, "bool");
}

TEST(GgufCorrupt, NestedArrays) {
  const Base& b = base();
  expect_rejected(patched<std::uint32_t>(b.kv_value(Base::kScores), static_cast<std::uint32_t>(ValueType::ARRAY)),
                  {"key 'tokenizer.ggml.scores'", "arrays of arrays are not supported"}, "nested");
}

TEST(GgufCorrupt, BadTensorTypes) {
  const Base& b = base();
  expect_rejected(patched<std::uint32_t>(b.ti_type(0), 4), {"tensor 't0.weight'", "unknown type id 4"}, "removed Q4_2");
  expect_rejected(patched<std::uint32_t>(b.ti_type(0), 1000), {"tensor 't0.weight'", "unknown type id 1000"}, "type 1000");
  // Q8_0 rows must hold whole blocks of 32.
  expect_rejected(patched<std::uint32_t>(b.ti_type(0), static_cast<std::uint32_t>(TensorType::Q8_0)),
                  {"tensor 't0.weight'", "row length 8 is not a multiple of the Q8_0 block size 32"}, "block size");
}

TEST(GgufCorrupt, BadDims) {
  const Base& b = base();
  expect_rejected(patched<std::uint32_t>(b.ti_ndims(0), 5), {"tensor 't0.weight' has 5 dimensions (at most 4)"}, "5 dims");
  expect_rejected(patched<std::uint32_t>(b.ti_ndims(0), 0xffffffffu), {"4294967295 dimensions"}, "huge n_dims");
  expect_rejected(patched<std::int64_t>(b.ti_dim(0, 1), -4), {"tensor 't0.weight' dimension 1 is negative (-4)"}, "negative");
  {
    std::vector<std::uint8_t> t = base().bytes;
    const std::int64_t big = std::int64_t{1} << 40;
    std::memcpy(t.data() + b.ti_dim(0, 0), &big, 8);
    std::memcpy(t.data() + b.ti_dim(0, 1), &big, 8);
    expect_rejected(t, {"tensor 't0.weight' element count overflows"}, "overflow");
  }
  // Large but not overflowing: the data cannot be in the file.
  expect_rejected(patched<std::int64_t>(b.ti_dim(0, 1), std::int64_t{1} << 30), {"tensor 't0.weight'", "beyond the end of the file"},
                  "big dims");
  // A zero row length with an overflowing row count is still rejected.
  {
    std::vector<std::uint8_t> t = base().bytes;
    const std::int64_t zero = 0, big = std::int64_t{1} << 62;
    std::memcpy(t.data() + b.ti_dim(1, 0), &zero, 8);
    std::memcpy(t.data() + b.ti_dim(1, 1), &big, 8);
    auto f = GgufFile::parse(t, "corpus.gguf");
    if (f) {
      EXPECT_EQ((*f)->find_tensor("t1.weight")->n_bytes, 0u);  // an empty tensor is legal
    }
  }
}

TEST(GgufCorrupt, BadOffsets) {
  const Base& b = base();
  expect_rejected(patched<std::uint64_t>(b.ti_offset(1), b.layout.tensor_data_offsets[1] - b.layout.data_offset + 1),
                  {"tensor 't1.weight' data offset", "is not a multiple of the alignment 32"}, "misaligned");
  expect_rejected(patched<std::uint64_t>(b.ti_offset(2), 1u << 20), {"tensor 't2.weight'", "beyond the end of the file"}, "beyond EOF");
  expect_rejected(patched<std::uint64_t>(b.ti_offset(2), ~std::uint64_t{0} - 31), {"tensor 't2.weight'", "beyond the end of the file"},
                  "offset overflow");
  expect_rejected(patched<std::uint64_t>(b.ti_offset(1), 0), {"overlaps tensor"}, "overlap");
}

TEST(GgufCorrupt, Duplicates) {
  const Base& b = base();
  std::vector<std::uint8_t> k = b.bytes;
  std::memcpy(k.data() + b.kv(Base::kDupB) + 8, "dup.aaa", 7);
  expect_rejected(k, {"offset " + std::to_string(b.kv(Base::kDupB)), "duplicate metadata key 'dup.aaa'"}, "dup key");
  std::vector<std::uint8_t> t = b.bytes;
  std::memcpy(t.data() + b.ti(1) + 8, "t0.weight", 9);
  expect_rejected(t, {"duplicate tensor name 't0.weight'"}, "dup tensor");
}

TEST(GgufCorrupt, BadAlignmentValues) {
  const Base& b = base();
  for (std::uint32_t a : {0u, 3u, 48u, 0x80000001u})
    expect_rejected(patched<std::uint32_t>(b.kv_value(Base::kAlign), a),
                    {"general.alignment' must be a uint32 power of two, got " + std::to_string(a)}, "alignment " + std::to_string(a));
  // The right value with the wrong type.
  expect_rejected(patched<std::uint32_t>(b.kv_type(Base::kAlign), static_cast<std::uint32_t>(ValueType::INT32)),
                  {"general.alignment' must be a uint32 power of two", "(int32)"}, "alignment type");
  // A larger power of two than the file was written with: the offsets no longer line up.
  expect_rejected(patched<std::uint32_t>(b.kv_value(Base::kAlign), 1u << 20), {"is not a multiple of the alignment 1048576"},
                  "alignment 1 MiB");
}

TEST(GgufCorrupt, BadHeaders) {
  expect_rejected(patched<std::uint32_t>(0, 0x46554748u), {"offset 0: bad magic", "not a GGUF file"}, "magic");
  expect_rejected(patched<std::uint32_t>(4, 1), {"version 1 is obsolete"}, "v1");
  expect_rejected(patched<std::uint32_t>(4, 4), {"offset 4: unsupported GGUF version 4 (expected 2 or 3)"}, "v4");
  expect_rejected(patched<std::uint32_t>(4, 0x03000000u), {"big-endian"}, "big endian");
  expect_rejected({}, {"not a GGUF file", "truncated"}, "empty");
}

TEST(GgufCorrupt, EveryByteFlippedNeverCrashes) {
  // Not every flip makes the file invalid (a byte of a tensor or a string may change), but
  // none may crash, and a rejected file always says why.
  const Base& b = base();
  const std::uint64_t header_bytes = b.layout.data_offset;
  int rejected = 0;
  for (std::uint64_t i = 0; i < header_bytes; ++i) {
    for (std::uint8_t x : {std::uint8_t{0xff}, std::uint8_t{0x80}, std::uint8_t{0x01}}) {
      std::vector<std::uint8_t> t = b.bytes;
      t[i] ^= x;
      auto f = GgufFile::parse(t, "corpus.gguf");
      if (!f) {
        ++rejected;
        EXPECT_GT(f.message().size(), std::string("corpus.gguf: ").size() + 10) << "byte " << i;
      }
    }
  }
  EXPECT_GT(rejected, static_cast<int>(header_bytes));
}

}  // namespace
}  // namespace rapide::inference::gguf
