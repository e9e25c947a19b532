// The word-level dp4a arithmetic of the CUDA GEMV kernels (quant/dp4a.h) and the per-element
// dequantization of the CUDA dequantize/get_rows kernels (quant/dequantize_element.h), run on the
// CPU against the float references: dequantize_block, and dequantize-then-dot with the A8
// activations. Every weight type the GPU kernels read, random blocks, several seeds.
#include "rapide/inference/quant/blocks.h"
#include "rapide/inference/quant/dequantize.h"
#include "rapide/inference/quant/dequantize_element.h"
#include "rapide/inference/quant/dp4a.h"
#include "rapide/inference/quant/quantize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

namespace rapide::inference::quant {
namespace {

std::vector<float> gaussian(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// n activations as A8 blocks of 32: quants, per-block scale and sum, packed words.
struct A8 {
  std::vector<std::int8_t> q;
  std::vector<float> da;
  std::vector<int> sum;
  std::vector<int> words() const {
    std::vector<int> w(q.size() / 4);
    std::memcpy(w.data(), q.data(), q.size());
    return w;
  }
  float value(std::size_t i) const { return da[i / 32] * static_cast<float>(q[i]); }
};

A8 make_a8(const std::vector<float>& x) {
  A8 a;
  a.q.resize(x.size());
  for (std::size_t b = 0; b < x.size() / 32; ++b) {
    int s = 0;
    a.da.push_back(quantize_a8(x.data() + 32 * b, a.q.data() + 32 * b, &s));
    a.sum.push_back(s);
  }
  return a;
}

template <class B>
std::vector<std::uint32_t> words_at(const B& b, std::size_t offset, int n) {
  std::vector<std::uint32_t> w(static_cast<std::size_t>(n));
  std::memcpy(w.data(), reinterpret_cast<const std::uint8_t*>(&b) + offset, 4 * static_cast<std::size_t>(n));
  return w;
}

// sum_i dequant(w)[i] * a.value(i) in double: what the integer path must reproduce.
template <class B, int N>
double reference_dot(const B& b, const A8& a) {
  float y[N];
  dequantize_block(b, y);
  double s = 0;
  for (int i = 0; i < N; ++i) s += static_cast<double>(y[i]) * a.value(static_cast<std::size_t>(i));
  return s;
}

double tol(double ref) { return 1e-4 * (1.0 + std::fabs(ref)); }

TEST(QuantDp4a, Dot4MatchesBytewiseProducts) {
  std::mt19937 rng(7);
  for (int it = 0; it < 1000; ++it) {
    const auto a = static_cast<int>(rng()), b = static_cast<int>(rng());
    int want = 5;
    for (int j = 0; j < 4; ++j)
      want += static_cast<std::int8_t>(static_cast<std::uint32_t>(a) >> (8 * j)) *
              static_cast<std::int8_t>(static_cast<std::uint32_t>(b) >> (8 * j));
    EXPECT_EQ(dot4_i8(a, b, 5), want);
  }
  EXPECT_EQ(dot4_i8(0x7f7f7f7f, static_cast<int>(0x81818181u), 0), 4 * 127 * -127);
}

TEST(QuantDp4a, A8QuantizationRoundTripsAndSums) {
  const auto x = gaussian(32, 3);
  std::int8_t q[32];
  int sum = 0;
  const float da = quantize_a8(x.data(), q, &sum);
  int s = 0;
  for (int j = 0; j < 32; ++j) {
    EXPECT_NEAR(da * q[j], x[j], 0.5f * da + 1e-7f) << j;
    EXPECT_LE(std::abs(static_cast<int>(q[j])), 127);
    s += q[j];
  }
  EXPECT_EQ(sum, s);
  const std::vector<float> zeros(32, 0.0f);
  EXPECT_EQ(quantize_a8(zeros.data(), q, &sum), 0.0f);
  EXPECT_EQ(sum, 0);
}

TEST(QuantDp4a, Spread4Bit4) {
  EXPECT_EQ(spread4_bit4(0x0), 0);
  EXPECT_EQ(spread4_bit4(0x1), 0x10);
  EXPECT_EQ(spread4_bit4(0x2), 0x1000);
  EXPECT_EQ(spread4_bit4(0x4), 0x100000);
  EXPECT_EQ(spread4_bit4(0x8), 0x10000000);
  EXPECT_EQ(spread4_bit4(0xF0), 0);  // only the low 4 bits count
}

TEST(QuantDp4a, Block32WordDotsMatchFloatReference) {
  for (std::uint32_t seed = 1; seed <= 20; ++seed) {
    const auto wx = gaussian(32, seed), ax = gaussian(32, 1000 + seed);
    const A8 a = make_a8(ax);
    const std::vector<int> aw = a.words();
    {
      BlockQ4_0 b;
      quantize_block(wx.data(), b);
      const double ref = reference_dot<BlockQ4_0, 32>(b, a);
      const int s = dot_q4_words(words_at(b, offsetof(BlockQ4_0, qs), 4).data(), aw.data());
      EXPECT_NEAR(finish_q4_0(f16_to_f32(b.d), a.da[0], s, a.sum[0]), ref, tol(ref)) << "Q4_0 seed " << seed;
    }
    {
      BlockQ4_1 b;
      quantize_block(wx.data(), b);
      const double ref = reference_dot<BlockQ4_1, 32>(b, a);
      const int s = dot_q4_words(words_at(b, offsetof(BlockQ4_1, qs), 4).data(), aw.data());
      EXPECT_NEAR(finish_min(f16_to_f32(b.d), f16_to_f32(b.m), a.da[0], s, a.sum[0]), ref, tol(ref))
          << "Q4_1 seed " << seed;
    }
    {
      BlockQ5_0 b;
      quantize_block(wx.data(), b);
      const double ref = reference_dot<BlockQ5_0, 32>(b, a);
      const int s = dot_q5_words(words_at(b, offsetof(BlockQ5_0, qs), 4).data(), q5_high_bits(b.qh), aw.data());
      EXPECT_NEAR(finish_q5_0(f16_to_f32(b.d), a.da[0], s, a.sum[0]), ref, tol(ref)) << "Q5_0 seed " << seed;
    }
    {
      BlockQ5_1 b;
      quantize_block(wx.data(), b);
      const double ref = reference_dot<BlockQ5_1, 32>(b, a);
      const int s = dot_q5_words(words_at(b, offsetof(BlockQ5_1, qs), 4).data(), q5_high_bits(b.qh), aw.data());
      EXPECT_NEAR(finish_min(f16_to_f32(b.d), f16_to_f32(b.m), a.da[0], s, a.sum[0]), ref, tol(ref))
          << "Q5_1 seed " << seed;
    }
    {
      BlockQ8_0 b;
      quantize_block(wx.data(), b);
      const double ref = reference_dot<BlockQ8_0, 32>(b, a);
      const auto w = words_at(b, offsetof(BlockQ8_0, qs), 8);
      const int s = dot_q8_words(reinterpret_cast<const int*>(w.data()), aw.data());
      EXPECT_NEAR(finish_q8_0(f16_to_f32(b.d), a.da[0], s), ref, tol(ref)) << "Q8_0 seed " << seed;
    }
  }
}

// The eight parts of a K-quant super-block, each given the words a GPU lane loads.
TEST(QuantDp4a, KQuantPartsSumToFloatReference) {
  for (std::uint32_t seed = 1; seed <= 20; ++seed) {
    const auto wx = gaussian(256, seed), ax = gaussian(256, 2000 + seed);
    const A8 a = make_a8(ax);
    const std::vector<int> aw = a.words();  // word k holds elements 4k..4k+3
    {
      BlockQ4_K b;
      quantize_block(wx.data(), b);
      const double ref = reference_dot<BlockQ4_K, 256>(b, a);
      double got = 0;
      for (int p = 0; p < 8; ++p) {
        const KPart kp = k_part(p);
        const auto qs = words_at(b, offsetof(BlockQ4_K, qs) + 32 * kp.c + kp.l0, 4);
        const int* lo = aw.data() + (64 * kp.c + kp.l0) / 4;
        got += dot_q4_k_part(f16_to_f32(b.d), f16_to_f32(b.dmin), k_part_scales(b.scales, kp.c), qs.data(), lo, lo + 8,
                             a.da[2 * kp.c], a.da[2 * kp.c + 1]);
      }
      EXPECT_NEAR(got, ref, tol(ref)) << "Q4_K seed " << seed;
    }
    {
      BlockQ5_K b;
      quantize_block(wx.data(), b);
      const double ref = reference_dot<BlockQ5_K, 256>(b, a);
      double got = 0;
      for (int p = 0; p < 8; ++p) {
        const KPart kp = k_part(p);
        const auto qs = words_at(b, offsetof(BlockQ5_K, qs) + 32 * kp.c + kp.l0, 4);
        const auto qh = words_at(b, offsetof(BlockQ5_K, qh) + kp.l0, 4);
        const int* lo = aw.data() + (64 * kp.c + kp.l0) / 4;
        got += dot_q5_k_part(f16_to_f32(b.d), f16_to_f32(b.dmin), k_part_scales(b.scales, kp.c), p, qs.data(), qh.data(),
                             lo, lo + 8,
                             a.da[2 * kp.c], a.da[2 * kp.c + 1]);
      }
      EXPECT_NEAR(got, ref, tol(ref)) << "Q5_K seed " << seed;
    }
    {
      BlockQ6_K b;
      quantize_block(wx.data(), b);
      const double ref = reference_dot<BlockQ6_K, 256>(b, a);
      double got = 0;
      for (int p = 0; p < 8; ++p) {
        const int h = p / 4, l0 = 8 * (p % 4);
        const auto ql_a = words_at(b, offsetof(BlockQ6_K, ql) + 64 * h + l0, 2);
        const auto ql_b = words_at(b, offsetof(BlockQ6_K, ql) + 64 * h + 32 + l0, 2);
        const auto qh = words_at(b, offsetof(BlockQ6_K, qh) + 32 * h + l0, 2);
        int av[8];
        float da[4];
        for (int k = 0; k < 4; ++k) {
          const int e = 128 * h + 32 * k + l0;
          av[2 * k] = aw[static_cast<std::size_t>(e / 4)];
          av[2 * k + 1] = aw[static_cast<std::size_t>(e / 4 + 1)];
          da[k] = a.da[static_cast<std::size_t>(4 * h + k)];
        }
        got += dot_q6_k_part(f16_to_f32(b.d), b.scales, p, ql_a.data(), ql_b.data(), qh.data(), av, da);
      }
      EXPECT_NEAR(got, ref, tol(ref)) << "Q6_K seed " << seed;
    }
  }
}

template <class B, int N>
void expect_elements_match(std::uint32_t seed, const char* name) {
  const auto x = gaussian(N, seed);
  B b;
  quantize_block(x.data(), b);
  float y[N];
  dequantize_block(b, y);
  for (int i = 0; i < N; ++i) ASSERT_EQ(dequantize_element(b, i), y[i]) << name << " element " << i;
}

TEST(QuantDequantizeElement, MatchesDequantizeBlockEverywhere) {
  for (std::uint32_t seed = 1; seed <= 5; ++seed) {
    expect_elements_match<BlockQ4_0, 32>(seed, "Q4_0");
    expect_elements_match<BlockQ4_1, 32>(seed, "Q4_1");
    expect_elements_match<BlockQ5_0, 32>(seed, "Q5_0");
    expect_elements_match<BlockQ5_1, 32>(seed, "Q5_1");
    expect_elements_match<BlockQ8_0, 32>(seed, "Q8_0");
    expect_elements_match<BlockQ4_K, 256>(seed, "Q4_K");
    expect_elements_match<BlockQ5_K, 256>(seed, "Q5_K");
    expect_elements_match<BlockQ6_K, 256>(seed, "Q6_K");
  }
}

}  // namespace
}  // namespace rapide::inference::quant
