// Quantized dot products: every kernel set against the scalar reference, and the scalar
// reference against dequantize-then-dot, on 1 block, 3 blocks and long rows.
#include "rapide/inference/quant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace rapide::inference {
namespace {

std::vector<float> gaussian(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

std::vector<std::uint8_t> encode(TensorType t, const std::vector<float>& x) {
  std::vector<std::uint8_t> out(*tensor_row_bytes(t, x.size()) + 1);  // +1: never a zero-size buffer
  const Status s = quantize_row(t, x.data(), out.data(), static_cast<std::int64_t>(x.size()));
  EXPECT_TRUE(s.ok()) << s.message();
  return out;
}

std::vector<float> decode(TensorType t, const std::vector<std::uint8_t>& bytes, std::size_t n) {
  std::vector<float> out(n + 1);
  const Status s = dequantize_row(t, bytes.data(), out.data(), static_cast<std::int64_t>(n));
  EXPECT_TRUE(s.ok()) << s.message();
  out.resize(n);
  return out;
}

std::string name(TensorType t) { return std::string(tensor_type_traits(t).name); }

struct DotCase {
  TensorType type;
  double max_rel_error;  // worst |quantized dot - float dot| / (|w| |a|) over 8 rows of 4096, ~3x measured
};

class QuantDot : public ::testing::TestWithParam<DotCase> {};

std::vector<std::int64_t> sizes_for(TensorType t) {
  const std::int64_t b = tensor_type_traits(t).block_elements;
  if (b == 1) return {1, 7, 8, 33, 100, 257, 4099};
  return {b, 3 * b, 4096 / b * b + 16 * b, 11008 / b * b};
}

// vec_dot (scalar kernels) equals the double-precision dot of the dequantized rows up to float
// rounding: the integer part is exact, so the bound is a few ulps of sum |w_i a_i|.
TEST_P(QuantDot, ScalarMatchesDequantizedDot) {
  const auto c = GetParam();
  const TensorType at = vec_dot_activation_type(c.type);
  for (std::int64_t n : sizes_for(c.type)) {
    const auto w = gaussian(static_cast<std::size_t>(n), 11 + static_cast<std::uint32_t>(n));
    const auto a = gaussian(static_cast<std::size_t>(n), 17 + static_cast<std::uint32_t>(n));
    const auto wq = encode(c.type, w), aq = encode(at, a);
    const auto wd = decode(c.type, wq, w.size()), ad = decode(at, aq, a.size());
    double exact = 0, magnitude = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      exact += static_cast<double>(wd[i]) * ad[i];
      magnitude += std::fabs(static_cast<double>(wd[i]) * ad[i]);
    }
    const float got = vec_dot(c.type, wq.data(), aq.data(), n, QuantIsa::Scalar);
    EXPECT_NEAR(got, exact, 2e-6 * magnitude + 1e-30) << name(c.type) << " n=" << n;
  }
}

// Each SIMD kernel set gives the scalar result up to float summation order.
TEST_P(QuantDot, SimdMatchesScalar) {
  const auto c = GetParam();
  const TensorType at = vec_dot_activation_type(c.type);
  bool any = false;
  for (QuantIsa isa : {QuantIsa::Avx2}) {
    if (!quant_isa_available(isa)) continue;
    any = true;
    for (std::int64_t n : sizes_for(c.type)) {
      for (std::uint32_t seed : {1u, 2u, 3u}) {
        const auto w = gaussian(static_cast<std::size_t>(n), seed * 101 + static_cast<std::uint32_t>(n));
        auto a = gaussian(static_cast<std::size_t>(n), seed * 103 + static_cast<std::uint32_t>(n));
        if (seed == 3)
          for (auto& v : a) v = std::fabs(v) * 40.0f;  // large, one-signed activations
        const auto wq = encode(c.type, w), aq = encode(at, a);
        const auto wd = decode(c.type, wq, w.size()), ad = decode(at, aq, a.size());
        double magnitude = 0;
        for (std::int64_t i = 0; i < n; ++i) magnitude += std::fabs(static_cast<double>(wd[i]) * ad[i]);
        const float ref = vec_dot(c.type, wq.data(), aq.data(), n, QuantIsa::Scalar);
        const float got = vec_dot(c.type, wq.data(), aq.data(), n, isa);
        EXPECT_NEAR(got, ref, 2e-6 * magnitude + 1e-30) << name(c.type) << " " << quant_isa_name(isa) << " n=" << n;
      }
    }
  }
  if (!any) GTEST_SKIP() << "no SIMD kernel set on this CPU";
}

// The quantized dot approximates the float dot of the original data.
TEST_P(QuantDot, ApproximatesFloatDot) {
  const auto c = GetParam();
  const TensorType at = vec_dot_activation_type(c.type);
  const std::int64_t n = 4096;
  double worst = 0;
  for (std::uint32_t seed = 0; seed < 8; ++seed) {
    const auto w = gaussian(n, 1000 + seed), a = gaussian(n, 2000 + seed);
    double exact = 0, nw = 0, na = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      exact += static_cast<double>(w[i]) * a[i];
      nw += static_cast<double>(w[i]) * w[i];
      na += static_cast<double>(a[i]) * a[i];
    }
    const auto wq = encode(c.type, w), aq = encode(at, a);
    const double rel = std::fabs(vec_dot(c.type, wq.data(), aq.data(), n) - exact) / std::sqrt(nw * na);
    worst = std::fmax(worst, rel);
  }
  std::printf("[ measure  ] %-5s x %-4s worst relative dot error %.2e (bound %.1e)\n", name(c.type).c_str(),
              name(at).c_str(), worst, c.max_rel_error);
  EXPECT_LT(worst, c.max_rel_error);
}

INSTANTIATE_TEST_SUITE_P(Types, QuantDot,
                         ::testing::Values(DotCase{TensorType::F32, 1e-7}, DotCase{TensorType::F16, 2e-5},
                                           DotCase{TensorType::BF16, 1e-4}, DotCase{TensorType::Q8_0, 1e-3},
                                           DotCase{TensorType::Q4_0, 4e-3}, DotCase{TensorType::Q4_1, 6e-3},
                                           DotCase{TensorType::Q5_0, 3e-3}, DotCase{TensorType::Q5_1, 5e-3},
                                           DotCase{TensorType::Q4_K, 5e-3}, DotCase{TensorType::Q5_K, 4e-3},
                                           DotCase{TensorType::Q6_K, 2e-3}),
                         [](const auto& p) { return name(p.param.type); });

TEST(QuantDotApi, ActivationTypes) {
  EXPECT_EQ(vec_dot_activation_type(TensorType::F32), TensorType::F32);
  EXPECT_EQ(vec_dot_activation_type(TensorType::F16), TensorType::F32);
  EXPECT_EQ(vec_dot_activation_type(TensorType::BF16), TensorType::F32);
  for (auto t : {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0})
    EXPECT_EQ(vec_dot_activation_type(t), TensorType::Q8_0) << name(t);
  for (auto t : {TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K})
    EXPECT_EQ(vec_dot_activation_type(t), TensorType::Q8_K) << name(t);
  EXPECT_FALSE(vec_dot_supported(TensorType::Q2_K));
  EXPECT_FALSE(vec_dot_supported(TensorType::Q8_K));
  EXPECT_EQ(vec_dot_function(TensorType::Q3_K), nullptr);
  EXPECT_NE(vec_dot_function(TensorType::Q6_K), nullptr);
  EXPECT_TRUE(quant_isa_available(QuantIsa::Scalar));
  std::printf("[ measure  ] best kernel set: %s\n", quant_isa_name(quant_best_isa()));
}

TEST(QuantDotApi, RowsMatchSingleDots) {
  const std::int64_t n = 512, rows = 5;
  for (TensorType t : {TensorType::Q8_0, TensorType::Q4_K, TensorType::F16}) {
    const auto w = gaussian(static_cast<std::size_t>(n * rows), 5);
    const auto a = gaussian(static_cast<std::size_t>(n), 6);
    const auto wq = encode(t, w), aq = encode(vec_dot_activation_type(t), a);
    const std::size_t stride = *tensor_row_bytes(t, static_cast<std::uint64_t>(n));
    std::vector<float> out(rows);
    vec_dot_rows(t, wq.data(), stride, rows, aq.data(), n, out.data());
    for (std::int64_t r = 0; r < rows; ++r)
      EXPECT_EQ(out[static_cast<std::size_t>(r)], vec_dot(t, wq.data() + r * stride, aq.data(), n)) << name(t) << " " << r;
  }
}

TEST(QuantDotApi, EmptyRowIsZero) {
  const float dummy = 0;
  EXPECT_EQ(vec_dot(TensorType::F32, &dummy, &dummy, 0), 0.0f);
  EXPECT_EQ(vec_dot(TensorType::Q4_K, &dummy, &dummy, 0), 0.0f);
}

#ifdef NDEBUG
TEST(QuantDotApi, BrokenPreconditionsGiveNaNInRelease) {
  std::vector<std::uint8_t> buf(1024);
  EXPECT_TRUE(std::isnan(vec_dot(TensorType::Q2_K, buf.data(), buf.data(), 256)));
  EXPECT_TRUE(std::isnan(vec_dot(TensorType::Q8_0, buf.data(), buf.data(), 33)));
}
#endif

}  // namespace
}  // namespace rapide::inference
