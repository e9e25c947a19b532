// Quant formats: block sizes, F16/BF16 bit patterns, hand-built blocks decoded element by
// element, round-trip error per type, and the errors of the row API.
#include "rapide/inference/quant.h"
#include "rapide/inference/quant/blocks.h"
#include "rapide/inference/quant/dequantize.h"
#include "rapide/inference/quant/float16.h"
#include "rapide/inference/quant/quantize.h"

#include <gtest/gtest.h>
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace rapide::inference {
namespace {

namespace q = quant;

std::uint32_t bits_of(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float float_of(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

std::vector<float> gaussian(std::size_t n, std::uint32_t seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

std::vector<std::uint8_t> quantize(TensorType t, const std::vector<float>& x) {
  std::vector<std::uint8_t> out(*tensor_row_bytes(t, x.size()));
  const Status s = quantize_row(t, x.data(), out.data(), static_cast<std::int64_t>(x.size()));
  EXPECT_TRUE(s.ok()) << s.message();
  return out;
}

std::vector<float> dequantize(TensorType t, const std::vector<std::uint8_t>& bytes, std::size_t n) {
  std::vector<float> out(n);
  const Status s = dequantize_row(t, bytes.data(), out.data(), static_cast<std::int64_t>(n));
  EXPECT_TRUE(s.ok()) << s.message();
  return out;
}

double nrmse(const std::vector<float>& x, const std::vector<float>& y) {
  double err = 0, ref = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    err += (static_cast<double>(x[i]) - y[i]) * (static_cast<double>(x[i]) - y[i]);
    ref += static_cast<double>(x[i]) * x[i];
  }
  return std::sqrt(err / ref);
}

// ---- layouts ------------------------------------------------------------------------------

TEST(QuantBlocks, SizesMatchTensorTypeTable) {
  struct Case {
    TensorType type;
    std::size_t bytes;
    int elements;
  };
  const Case cases[] = {
      {TensorType::Q4_0, sizeof(q::BlockQ4_0), q::kQK4_0}, {TensorType::Q4_1, sizeof(q::BlockQ4_1), q::kQK4_1},
      {TensorType::Q5_0, sizeof(q::BlockQ5_0), q::kQK5_0}, {TensorType::Q5_1, sizeof(q::BlockQ5_1), q::kQK5_1},
      {TensorType::Q8_0, sizeof(q::BlockQ8_0), q::kQK8_0}, {TensorType::Q8_1, sizeof(q::BlockQ8_1), q::kQK8_1},
      {TensorType::Q4_K, sizeof(q::BlockQ4_K), q::kQK_K},  {TensorType::Q5_K, sizeof(q::BlockQ5_K), q::kQK_K},
      {TensorType::Q6_K, sizeof(q::BlockQ6_K), q::kQK_K},  {TensorType::Q8_K, sizeof(q::BlockQ8_K), q::kQK_K},
  };
  for (const auto& c : cases) {
    const auto traits = tensor_type_traits(c.type);
    EXPECT_EQ(traits.block_bytes, c.bytes) << traits.name;
    EXPECT_EQ(traits.block_elements, static_cast<std::uint32_t>(c.elements)) << traits.name;
  }
  // Bits per weight as llama.cpp advertises them.
  EXPECT_DOUBLE_EQ(sizeof(q::BlockQ4_K) * 8.0 / q::kQK_K, 4.5);
  EXPECT_DOUBLE_EQ(sizeof(q::BlockQ5_K) * 8.0 / q::kQK_K, 5.5);
  EXPECT_DOUBLE_EQ(sizeof(q::BlockQ6_K) * 8.0 / q::kQK_K, 6.5625);
}

// Hand-built blocks decoded at chosen positions; the expected values are worked out from the
// layout description (ggml-common.h / ggml-quants.c), independently of dequantize.h's loops.
TEST(QuantBlocks, Q4_0AndQ5_0ElementOrder) {
  q::BlockQ4_0 b{};
  b.d = q::f32_to_f16(0.5f);
  b.qs[0] = 0x21;   // element 0 -> 1, element 16 -> 2
  b.qs[15] = 0xF0;  // element 15 -> 0, element 31 -> 15
  float y[32];
  q::dequantize_block(b, y);
  EXPECT_EQ(y[0], (1 - 8) * 0.5f);
  EXPECT_EQ(y[16], (2 - 8) * 0.5f);
  EXPECT_EQ(y[15], (0 - 8) * 0.5f);
  EXPECT_EQ(y[31], (15 - 8) * 0.5f);

  q::BlockQ5_0 c{};
  c.d = q::f32_to_f16(1.0f);
  c.qs[3] = 0x52;                  // element 3 low nibble 2, element 19 low nibble 5
  c.qh[0] = 0x08;                  // bit 3: element 3 gets +16
  c.qh[2] = 0x08;                  // bit 19: element 19 gets +16
  q::dequantize_block(c, y);
  EXPECT_EQ(y[3], 2 + 16 - 16);
  EXPECT_EQ(y[19], 5 + 16 - 16);
  EXPECT_EQ(y[4], -16);
}

TEST(QuantBlocks, Q4_KScalePackingAndOrder) {
  // Scales/mins: sub-block j < 4 in bytes j / j+4 (6 bits); j >= 4 low nibbles in byte j+4,
  // top two bits in bits 6-7 of bytes j-4 / j.
  const std::uint8_t sc[8] = {1, 2, 3, 63, 17, 40, 5, 33};
  const std::uint8_t mn[8] = {7, 0, 62, 9, 48, 1, 36, 20};
  std::uint8_t packed[12] = {};
  for (int j = 0; j < 8; ++j) q::k_pack_scale_min(j, sc[j], mn[j], packed);
  for (int j = 0; j < 8; ++j) {
    std::uint8_t s, m;
    q::k_scale_min(j, packed, s, m);
    EXPECT_EQ(s, sc[j]) << j;
    EXPECT_EQ(m, mn[j]) << j;
  }
  // Byte-level facts: byte 8 = low nibble of scale 4 | low nibble of min 4 << 4.
  EXPECT_EQ(packed[8], (17 & 0xF) | ((48 & 0xF) << 4));
  EXPECT_EQ(packed[0] >> 6, 17 >> 4);
  EXPECT_EQ(packed[4] >> 6, 48 >> 4);

  q::BlockQ4_K b{};
  std::memcpy(b.scales, packed, 12);
  b.d = q::f32_to_f16(1.0f);
  b.dmin = q::f32_to_f16(0.25f);
  b.qs[32 * 2 + 5] = 0x9C;  // chunk 2: element 133 (sub-block 4) = 12, element 165 (sub-block 5) = 9
  float y[256];
  q::dequantize_block(b, y);
  EXPECT_FLOAT_EQ(y[128 + 5], 17 * 12 - 0.25f * 48);
  EXPECT_FLOAT_EQ(y[160 + 5], 40 * 9 - 0.25f * 1);
  EXPECT_FLOAT_EQ(y[0], -0.25f * 7);
}

TEST(QuantBlocks, Q5_KHighBits) {
  q::BlockQ5_K b{};
  std::uint8_t packed[12] = {};
  for (int j = 0; j < 8; ++j) q::k_pack_scale_min(j, 1, 0, packed);
  std::memcpy(b.scales, packed, 12);
  b.d = q::f32_to_f16(1.0f);
  b.dmin = 0;
  b.qs[32 * 3 + 7] = 0x3A;           // chunk 3: element 199 low 10, element 231 low 3
  b.qh[7] = (1 << 6) | (1 << 7);     // bits 2c, 2c+1 for c = 3
  float y[256];
  q::dequantize_block(b, y);
  EXPECT_EQ(y[192 + 7], 10 + 16);
  EXPECT_EQ(y[224 + 7], 3 + 16);
  EXPECT_EQ(y[7], 0);
}

TEST(QuantBlocks, Q6_KElementOrder) {
  q::BlockQ6_K b{};
  b.d = q::f32_to_f16(1.0f);
  for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<std::int8_t>(j + 1);
  // Second half (h = 1), l = 20: elements 148, 180, 212, 244.
  b.ql[64 + 20] = 0xB3;       // element 148 low 3, element 212 low 11
  b.ql[64 + 52] = 0x6F;       // element 180 low 15, element 244 low 6
  b.qh[32 + 20] = 0b10'01'11'00;  // high bits: 148 -> 0, 180 -> 3, 212 -> 1, 244 -> 2
  float y[256];
  q::dequantize_block(b, y);
  EXPECT_EQ(y[148], (148 / 16 + 1) * ((3 | (0 << 4)) - 32));
  EXPECT_EQ(y[180], (180 / 16 + 1) * ((15 | (3 << 4)) - 32));
  EXPECT_EQ(y[212], (212 / 16 + 1) * ((11 | (1 << 4)) - 32));
  EXPECT_EQ(y[244], (244 / 16 + 1) * ((6 | (2 << 4)) - 32));
  EXPECT_EQ(y[0], 1 * -32);
}

// ---- F16 / BF16 ----------------------------------------------------------------------------

TEST(QuantFloat16, KnownBitPatterns) {
  EXPECT_EQ(q::f32_to_f16(1.0f), 0x3C00);
  EXPECT_EQ(q::f32_to_f16(-2.0f), 0xC000);
  EXPECT_EQ(q::f32_to_f16(0.0f), 0x0000);
  EXPECT_EQ(q::f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(q::f32_to_f16(0.1f), 0x2E66);
  EXPECT_EQ(q::f32_to_f16(1.0f / 3.0f), 0x3555);
  EXPECT_EQ(q::f32_to_f16(65504.0f), 0x7BFF);      // largest half
  EXPECT_EQ(q::f32_to_f16(65519.99f), 0x7BFF);     // still rounds down
  EXPECT_EQ(q::f32_to_f16(65520.0f), 0x7C00);      // tie above max -> Inf
  EXPECT_EQ(q::f32_to_f16(1e10f), 0x7C00);
  EXPECT_EQ(q::f32_to_f16(-1e10f), 0xFC00);
  EXPECT_EQ(q::f32_to_f16(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(q::f32_to_f16(-std::numeric_limits<float>::infinity()), 0xFC00);
  EXPECT_EQ(q::f32_to_f16(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(q::f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(q::f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // tie -> even (zero)
  EXPECT_EQ(q::f32_to_f16(std::ldexp(1.0001f, -25)), 0x0001);
  EXPECT_EQ(q::f32_to_f16(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 units -> even 2
  EXPECT_EQ(q::f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);       // tie -> even
  EXPECT_EQ(q::f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);   // tie -> even (up)
  EXPECT_EQ(q::f32_to_f16(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)), 0x3C01);
  EXPECT_EQ(q::f32_to_f16(std::ldexp(1.0f, -14) - std::ldexp(1.0f, -26)), 0x0400);  // rounds up to normal

  const std::uint16_t nan = q::f32_to_f16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7C00, 0x7C00);
  EXPECT_NE(nan & 0x03FF, 0);
  EXPECT_NE(q::f32_to_f16(float_of(0x7F800001u)) & 0x03FF, 0);  // signalling NaN stays NaN
  EXPECT_EQ(q::f32_to_f16(float_of(0xFFC00000u)) & 0x8000, 0x8000);  // sign kept

  EXPECT_EQ(q::f16_to_f32(0x3C00), 1.0f);
  EXPECT_EQ(q::f16_to_f32(0x7BFF), 65504.0f);
  EXPECT_EQ(q::f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(q::f16_to_f32(0x03FF), std::ldexp(1023.0f, -24));
  EXPECT_TRUE(std::isinf(q::f16_to_f32(0x7C00)) && q::f16_to_f32(0x7C00) > 0);
  EXPECT_TRUE(std::isinf(q::f16_to_f32(0xFC00)) && q::f16_to_f32(0xFC00) < 0);
  EXPECT_TRUE(std::isnan(q::f16_to_f32(0x7E00)));
  EXPECT_TRUE(std::isnan(q::f16_to_f32(0x7C01)));
  EXPECT_TRUE(std::signbit(q::f16_to_f32(0x8000)));
}

// Every half value decodes to sign * 2^(e-15) * (1 + m/1024) (or the subnormal form), computed
// here with ldexp, and re-encodes to itself.
TEST(QuantFloat16, ExhaustiveDecodeAndRoundTrip) {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const int sign = (h >> 15) ? -1 : 1;
    const int e = static_cast<int>((h >> 10) & 31);
    const int m = static_cast<int>(h & 1023);
    const float got = q::f16_to_f32(static_cast<std::uint16_t>(h));
    if (e == 31) {
      if (m == 0) {
        EXPECT_TRUE(std::isinf(got)) << h;
      } else {
        EXPECT_TRUE(std::isnan(got)) << h;
      }
      continue;
    }
    const double expect = e == 0 ? sign * std::ldexp(static_cast<double>(m), -24)
                                 : sign * std::ldexp(1.0 + m / 1024.0, e - 15);
    ASSERT_EQ(static_cast<double>(got), expect) << "half 0x" << std::hex << h;
    ASSERT_EQ(q::f32_to_f16(got), h) << "half 0x" << std::hex << h;
  }
}

// The rounding of f32_to_f16 agrees with the CPU's own conversion (vcvtps2ph, round to nearest
// even) on a million random bit patterns, NaNs excepted (payloads may differ).
__attribute__((target("f16c"))) std::uint16_t hardware_f16(float f) {
  return static_cast<std::uint16_t>(_cvtss_sh(f, 0));
}

TEST(QuantFloat16, MatchesHardwareConversion) {
  if (!__builtin_cpu_supports("f16c")) GTEST_SKIP() << "CPU has no F16C";
  std::mt19937 rng(7);
  for (int i = 0; i < 1000000; ++i) {
    std::uint32_t u = rng();
    if (i % 2) u = (u & 0x87FFFFFFu) | 0x38000000u;  // half the samples near the half range
    const float f = float_of(u);
    if (std::isnan(f)) continue;
    ASSERT_EQ(q::f32_to_f16(f), hardware_f16(f)) << "float bits 0x" << std::hex << u;
  }
}

TEST(QuantBFloat16, KnownBitPatterns) {
  EXPECT_EQ(q::f32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(q::f32_to_bf16(-2.0f), 0xC000);
  EXPECT_EQ(q::f32_to_bf16(3.14159265f), 0x4049);
  EXPECT_EQ(q::f32_to_bf16(float_of(0x3F808000u)), 0x3F80);  // tie -> even (down)
  EXPECT_EQ(q::f32_to_bf16(float_of(0x3F818000u)), 0x3F82);  // tie -> even (up)
  EXPECT_EQ(q::f32_to_bf16(float_of(0x3F808001u)), 0x3F81);
  EXPECT_EQ(q::f32_to_bf16(float_of(0x7F7FFFFFu)), 0x7F80);  // FLT_MAX rounds to Inf
  EXPECT_EQ(q::f32_to_bf16(std::numeric_limits<float>::infinity()), 0x7F80);
  EXPECT_EQ(q::f32_to_bf16(-std::numeric_limits<float>::infinity()), 0xFF80);
  EXPECT_EQ(q::f32_to_bf16(float_of(0x7F800001u)), 0x7FC0);  // signalling NaN -> quiet NaN
  EXPECT_EQ(q::f32_to_bf16(float_of(0xFFC00000u)), 0xFFC0);
  EXPECT_EQ(q::f32_to_bf16(float_of(0x00000001u)), 0x0000);  // tiny subnormal rounds to zero
  EXPECT_EQ(q::bf16_to_f32(0x3F80), 1.0f);
  EXPECT_EQ(bits_of(q::bf16_to_f32(0x4049)), 0x40490000u);
  EXPECT_TRUE(std::isnan(q::bf16_to_f32(0x7FC0)));
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const float f = q::bf16_to_f32(static_cast<std::uint16_t>(b));
    if (std::isnan(f)) continue;
    ASSERT_EQ(q::f32_to_bf16(f), b);
  }
}

// ---- round trips ---------------------------------------------------------------------------

struct RoundTripCase {
  TensorType type;
  // Measured on N(0,1) data, 16384 values, plus ~10% headroom. These are what the formats give:
  // e.g. Q8_0 steps by absmax/127 with absmax ~2.2 sigma over 32 values, so RMSE ~ 2.2/127/sqrt(12).
  double max_nrmse;
};

class QuantRoundTrip : public ::testing::TestWithParam<RoundTripCase> {};

TEST_P(QuantRoundTrip, GaussianErrorWithinBound) {
  const auto c = GetParam();
  const auto x = gaussian(16384, 1234);
  const auto y = dequantize(c.type, quantize(c.type, x), x.size());
  const double e = nrmse(x, y);
  std::printf("[ measure  ] %-5s normalised RMSE %.5f (bound %.4f)\n",
              std::string(tensor_type_traits(c.type).name).c_str(), e, c.max_nrmse);
  EXPECT_LT(e, c.max_nrmse);
  // Per-row scale makes the error independent of the data's scale.
  std::vector<float> big(x);
  for (auto& v : big) v *= 1000.0f;
  const auto yb = dequantize(c.type, quantize(c.type, big), big.size());
  EXPECT_LT(nrmse(big, yb), c.max_nrmse);
}

TEST_P(QuantRoundTrip, ZerosAndConstantsStayFinite) {
  const auto c = GetParam();
  const std::size_t n = 512;
  for (float value : {0.0f, 1.0f, -3.5f}) {
    std::vector<float> x(n, value);
    const auto y = dequantize(c.type, quantize(c.type, x), n);
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_TRUE(std::isfinite(y[i])) << i;
      ASSERT_NEAR(y[i], value, std::fabs(value) * 0.02 + 1e-6) << "value " << value << " at " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, QuantRoundTrip,
                         ::testing::Values(RoundTripCase{TensorType::F32, 1e-9}, RoundTripCase{TensorType::F16, 3e-4},
                                           RoundTripCase{TensorType::BF16, 2e-3}, RoundTripCase{TensorType::Q8_0, 0.006},
                                           RoundTripCase{TensorType::Q8_1, 0.006}, RoundTripCase{TensorType::Q8_K, 0.0078},
                                           RoundTripCase{TensorType::Q6_K, 0.0195}, RoundTripCase{TensorType::Q5_1, 0.042},
                                           RoundTripCase{TensorType::Q5_0, 0.047}, RoundTripCase{TensorType::Q5_K, 0.04},
                                           RoundTripCase{TensorType::Q4_1, 0.086}, RoundTripCase{TensorType::Q4_0, 0.095},
                                           RoundTripCase{TensorType::Q4_K, 0.079}),
                         [](const auto& p) { return std::string(tensor_type_traits(p.param.type).name); });

// The fitted K-quant scales beat plain absmax scaling on the same format (what the search buys).
TEST(QuantRoundTrip, Q4_KSearchBeatsRangeScaling) {
  const auto x = gaussian(256 * 32, 99);
  std::vector<float> naive(x.size());
  for (std::size_t b = 0; b < x.size(); b += 32) {
    float lo = x[b], hi = x[b];
    for (int l = 0; l < 32; ++l) lo = std::fmin(lo, x[b + l]), hi = std::fmax(hi, x[b + l]);
    const float d = (hi - lo) / 15;
    for (int l = 0; l < 32; ++l) naive[b + l] = lo + d * std::round((x[b + l] - lo) / d);
  }
  const auto y = dequantize(TensorType::Q4_K, quantize(TensorType::Q4_K, x), x.size());
  EXPECT_LT(nrmse(x, y), nrmse(x, naive));
}

// ---- API errors ----------------------------------------------------------------------------

TEST(QuantRowApi, SupportedTypes) {
  for (auto t : {TensorType::F32, TensorType::F16, TensorType::BF16, TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0,
                 TensorType::Q5_1, TensorType::Q8_0, TensorType::Q8_1, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K,
                 TensorType::Q8_K})
    EXPECT_TRUE(quant_supported(t)) << tensor_type_traits(t).name;
  for (auto t : {TensorType::Q2_K, TensorType::Q3_K, TensorType::IQ4_XS, TensorType::I32, TensorType::MXFP4})
    EXPECT_FALSE(quant_supported(t)) << tensor_type_traits(t).name;
}

TEST(QuantRowApi, BadSizesAndTypesAreErrors) {
  std::vector<float> x(300, 1.0f);
  std::vector<std::uint8_t> buf(4096);
  Status s = quantize_row(TensorType::Q4_K, x.data(), buf.data(), 300);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("Q4_K"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("multiple of 256"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("300"), std::string::npos) << s.message();

  s = dequantize_row(TensorType::Q8_0, buf.data(), x.data(), 33);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("multiple of 32"), std::string::npos) << s.message();

  s = dequantize_row(TensorType::Q8_0, buf.data(), x.data(), -32);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("negative"), std::string::npos) << s.message();

  s = quantize_row(TensorType::Q2_K, x.data(), buf.data(), 256);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("Q2_K"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("not supported"), std::string::npos) << s.message();

  s = dequantize_row(static_cast<TensorType>(77), buf.data(), x.data(), 32);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("type id 77"), std::string::npos) << s.message();

  x[40] = std::numeric_limits<float>::quiet_NaN();
  s = quantize_row(TensorType::Q8_0, x.data(), buf.data(), 64);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("element 40 is NaN"), std::string::npos) << s.message();
  x[40] = std::numeric_limits<float>::infinity();
  s = quantize_row(TensorType::Q6_K, x.data(), buf.data(), 256);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("infinite"), std::string::npos) << s.message();

  // Float formats keep NaN/Inf and accept any length.
  EXPECT_TRUE(quantize_row(TensorType::F16, x.data(), buf.data(), 41).ok());
  EXPECT_TRUE(quantize_row(TensorType::F32, x.data(), buf.data(), 0).ok());
}

}  // namespace
}  // namespace rapide::inference
