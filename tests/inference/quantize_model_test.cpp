// `rapide quantize` end to end on the real stories260K model: every tensor gets the type
// choose_tensor_type() picks (fallbacks for rows that hold no whole block), the metadata is
// copied with general.file_type updated, converted weights dequantize back close to the source
// and untouched tensors are byte-identical; already-quantized sources, output == input, bad
// types and corrupt inputs are clear errors. (llama.cpp agreement on the quantized files is in
// reference_llama_cpp_test.cpp.)
#include "rapide/inference/gguf.h"
#include "rapide/inference/make_model.h"
#include "rapide/inference/quant.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace rapide::inference {
namespace {

namespace fs = std::filesystem;
using rapide::testing::run_process;
using rapide::testing::TempDir;

std::vector<float> dequantized(const gguf::GgufFile& f, const gguf::TensorInfo& t) {
  std::vector<float> v(t.n_elements);
  const std::uint64_t row = static_cast<std::uint64_t>(t.dims[0]);
  const auto bytes = f.tensor_data(t);
  const std::uint64_t row_bytes = bytes.size() / t.n_rows();
  for (std::uint64_t r = 0; r < t.n_rows(); ++r)
    EXPECT_TRUE(dequantize_row(t.type, bytes.data() + r * row_bytes, v.data() + r * row, static_cast<std::int64_t>(row)));
  return v;
}

// Root-mean-square error relative to the source's RMS.
double relative_rms_error(const std::vector<float>& a, const std::vector<float>& b) {
  double err = 0, ref = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    err += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    ref += double(a[i]) * a[i];
  }
  return ref == 0 ? std::sqrt(err) : std::sqrt(err / ref);
}

struct Case {
  const char* type;
  double max_error;  // relative RMS error of a converted tensor
};

class QuantizeModel : public ::testing::TestWithParam<Case> {};

TEST_P(QuantizeModel, ConvertsStories260KAsLlamaQuantizeWould) {
  RAPIDE_REQUIRE_SHARED(source, "models/stories260K.gguf");
  const Case& c = GetParam();
  TempDir tmp;
  const fs::path out = tmp.path() / "q.gguf";
  auto r = run_process({RAPIDE_BINARY, "quantize", source.string(), out.string(), c.type, "--threads", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("converted"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out.string() + ".partial"));

  auto src = gguf::GgufFile::open(source);
  auto dst = gguf::GgufFile::open(out);
  ASSERT_TRUE(src) << src.message();
  ASSERT_TRUE(dst) << dst.message();
  const auto format = parse_weight_format(c.type);
  ASSERT_TRUE(format);
  EXPECT_EQ((*dst)->get_uint("general.file_type"), file_type_id(*format));
  for (const gguf::KeyValue& kv : (*src)->metadata()) {
    if (kv.key == "general.file_type" || kv.key == "general.quantization_version") continue;
    ASSERT_NE((*dst)->find(kv.key), nullptr) << kv.key;
  }
  const std::string arch((*src)->architecture());
  const auto n_layer = static_cast<std::int64_t>(*(*src)->get_uint(arch + ".block_count"));
  const bool tied = (*src)->find_tensor("output.weight") == nullptr;
  ASSERT_EQ((*src)->tensors().size(), (*dst)->tensors().size());
  int converted = 0;
  for (std::size_t i = 0; i < (*src)->tensors().size(); ++i) {
    const gguf::TensorInfo& s = (*src)->tensors()[i];
    const gguf::TensorInfo& d = (*dst)->tensors()[i];
    SCOPED_TRACE(std::string(s.name));
    ASSERT_EQ(s.name, d.name);
    ASSERT_EQ(s.dims, d.dims);
    const TensorType want = choose_tensor_type(*format, s.name, s.dims, n_layer, 0, tied);
    if (want == TensorType::F32 && s.type != TensorType::F32) {
      EXPECT_EQ(d.type, s.type);
    } else {
      EXPECT_EQ(d.type, want);
    }
    if (d.type == s.type) {
      const auto a = (*src)->tensor_data(s), b = (*dst)->tensor_data(d);
      ASSERT_EQ(a.size(), b.size());
      EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size()), 0);
      continue;
    }
    ++converted;
    EXPECT_LT(relative_rms_error(dequantized(**src, s), dequantized(**dst, d)), c.max_error);
  }
  EXPECT_GT(converted, 0);

  // The CPU backend runs every type the file holds (the fallbacks Q5_0 and F16 included).
  auto g = run_process({RAPIDE_BINARY, "generate", "-m", out.string(), "-p", "Once upon a time", "-n", "8", "--json"});
  EXPECT_EQ(g.exit_code, 0) << g.err;
  EXPECT_NE(g.out.find("\"tokens\""), std::string::npos) << g.out;
}

INSTANTIATE_TEST_SUITE_P(Types, QuantizeModel,
                         ::testing::Values(Case{"f16", 1e-3}, Case{"bf16", 8e-3}, Case{"q8_0", 1e-2}, Case{"q4_0", 0.15},
                                           Case{"q4_k", 0.15}, Case{"q5_k", 0.08}, Case{"q6_k", 0.04}, Case{"q4_k_m", 0.15}),
                         [](const ::testing::TestParamInfo<Case>& i) { return std::string(i.param.type); });

TEST(QuantizeModelErrors, RefusesBadRequestsClearly) {
  RAPIDE_REQUIRE_SHARED(source, "models/stories260K.gguf");
  TempDir tmp;
  const fs::path q8 = tmp.path() / "q8.gguf";
  ASSERT_EQ(run_process({RAPIDE_BINARY, "quantize", source.string(), q8.string(), "q8_0"}).exit_code, 0);

  // Already quantized: refused unless asked, then converted.
  const fs::path q4 = tmp.path() / "q4.gguf";
  auto r = run_process({RAPIDE_BINARY, "quantize", q8.string(), q4.string(), "q4_0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("already quantized"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--allow-requantize"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(q4));
  r = run_process({RAPIDE_BINARY, "quantize", q8.string(), q4.string(), "q4_0", "--allow-requantize"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(q4));

  // Same file in and out.
  r = run_process({RAPIDE_BINARY, "quantize", q8.string(), q8.string(), "q8_0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("is the input file"), std::string::npos) << r.err;

  // Unknown type.
  r = run_process({RAPIDE_BINARY, "quantize", source.string(), (tmp.path() / "x.gguf").string(), "q3_xs"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("unknown --type 'q3_xs'"), std::string::npos) << r.err;

  // Missing and truncated inputs.
  r = run_process({RAPIDE_BINARY, "quantize", (tmp.path() / "missing.gguf").string(), (tmp.path() / "y.gguf").string(), "q8_0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing.gguf"), std::string::npos) << r.err;
  const fs::path cut = tmp.path() / "cut.gguf";
  {
    std::ifstream in(source, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  r = run_process({RAPIDE_BINARY, "quantize", cut.string(), (tmp.path() / "z.gguf").string(), "q8_0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_FALSE(r.err.empty());
  EXPECT_FALSE(fs::exists(tmp.path() / "z.gguf"));
}

}  // namespace
}  // namespace rapide::inference
