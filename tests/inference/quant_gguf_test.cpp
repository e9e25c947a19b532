// Golden check on real data: the F16 tensors of a GGUF made by llama.cpp's converter, decoded by
// dequantize_row, against values computed independently from the raw bits with ldexp.
#include "rapide/inference/gguf.h"
#include "rapide/inference/quant.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace rapide::inference {
namespace {

double half_by_formula(std::uint16_t h) {
  const int sign = (h >> 15) ? -1 : 1;
  const int e = (h >> 10) & 31;
  const int m = h & 1023;
  if (e == 31) return m ? NAN : sign * INFINITY;
  return e == 0 ? sign * std::ldexp(static_cast<double>(m), -24) : sign * std::ldexp(1.0 + m / 1024.0, e - 15);
}

TEST(QuantGguf, F16TensorsOfLlama2TinyRandom) {
  RAPIDE_REQUIRE_SHARED(path, "models/random/llama-2-tiny-random.gguf");
  auto file = gguf::GgufFile::open(path);
  ASSERT_TRUE(file.ok()) << file.message();
  int f16_tensors = 0;
  for (const auto& t : (*file)->tensors()) {
    if (t.type != TensorType::F16) continue;
    ++f16_tensors;
    const auto bytes = (*file)->tensor_data(t);
    const std::int64_t row = t.dims[0];
    const std::uint64_t rows = t.n_rows();
    ASSERT_EQ(bytes.size(), rows * static_cast<std::uint64_t>(row) * 2) << t.name;
    std::vector<float> out(static_cast<std::size_t>(row));
    double sum_sq = 0;
    for (std::uint64_t r = 0; r < rows; ++r) {
      const std::uint8_t* src = bytes.data() + r * static_cast<std::uint64_t>(row) * 2;
      const Status s = dequantize_row(TensorType::F16, src, out.data(), row);
      ASSERT_TRUE(s.ok()) << s.message();
      for (std::int64_t i = 0; i < row; ++i) {
        std::uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        ASSERT_EQ(static_cast<double>(out[static_cast<std::size_t>(i)]), half_by_formula(h))
            << t.name << " row " << r << " col " << i;
        sum_sq += static_cast<double>(out[static_cast<std::size_t>(i)]) * out[static_cast<std::size_t>(i)];
      }
      // The F16 dot kernels read the same tensor: a row against itself gives its squared norm.
      std::vector<float> act(out);
      const double self = vec_dot(TensorType::F16, src, act.data(), row);
      double expect = 0;
      for (float v : out) expect += static_cast<double>(v) * v;
      ASSERT_NEAR(self, expect, 1e-5 * expect + 1e-30) << t.name << " row " << r;
    }
    EXPECT_GT(sum_sq, 0) << t.name << " is all zeros: wrong offset?";
  }
  EXPECT_EQ(f16_tensors, 9);  // all 2-D weights (DATA.md section 2c)
}

// F16 -> F16 through quantize_row is the identity on real weights (they are already halves).
TEST(QuantGguf, F16RequantizeIsIdentity) {
  RAPIDE_REQUIRE_SHARED(path, "models/random/llama-2-tiny-random.gguf");
  auto file = gguf::GgufFile::open(path);
  ASSERT_TRUE(file.ok()) << file.message();
  const auto* t = (*file)->find_tensor("token_embd.weight");
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->type, TensorType::F16);
  const auto bytes = (*file)->tensor_data(*t);
  const auto n = static_cast<std::int64_t>(t->n_elements);
  std::vector<float> f(static_cast<std::size_t>(n));
  ASSERT_TRUE(dequantize_row(TensorType::F16, bytes.data(), f.data(), n).ok());
  std::vector<std::uint8_t> back(bytes.size());
  ASSERT_TRUE(quantize_row(TensorType::F16, f.data(), back.data(), n).ok());
  EXPECT_EQ(std::memcmp(back.data(), bytes.data(), bytes.size()), 0);
}

}  // namespace
}  // namespace rapide::inference
