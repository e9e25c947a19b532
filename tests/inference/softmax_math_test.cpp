// The online-softmax and silu helpers of softmax_math.h, which the CPU attention/SwiGLU and the
// CUDA kernels both call: blockwise updates and split-K merges must equal a plain softmax.
#include "rapide/inference/softmax_math.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace rapide::inference {
namespace {

// sum_j softmax(s)_j * v_j computed in blocks of `block` scores with the online update.
double online_weighted_mean(const std::vector<float>& s, const std::vector<float>& v, std::size_t block, float* m_out,
                            float* l_out) {
  float m = -HUGE_VALF, l = 0.0f, acc = 0.0f;
  for (std::size_t b = 0; b < s.size(); b += block) {
    const std::size_t e = std::min(s.size(), b + block);
    float bmax = -HUGE_VALF;
    for (std::size_t j = b; j < e; ++j) bmax = std::max(bmax, s[j]);
    const float r = online_softmax_update(&m, bmax);
    l *= r;
    acc *= r;
    for (std::size_t j = b; j < e; ++j) {
      const float p = std::exp(s[j] - m);
      l += p;
      acc += p * v[j];
    }
  }
  *m_out = m;
  *l_out = l;
  return acc;
}

TEST(SoftmaxMath, OnlineUpdateEqualsPlainSoftmax) {
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0.0f, 4.0f);
  std::vector<float> s(1000), v(1000);
  for (auto& x : s) x = d(rng);
  for (auto& x : v) x = d(rng);
  float mx = -HUGE_VALF;
  for (float x : s) mx = std::max(mx, x);
  double num = 0, den = 0;
  for (std::size_t j = 0; j < s.size(); ++j) {
    num += std::exp(static_cast<double>(s[j]) - mx) * v[j];
    den += std::exp(static_cast<double>(s[j]) - mx);
  }
  for (std::size_t block : {std::size_t{1}, std::size_t{7}, std::size_t{32}, std::size_t{1000}}) {
    float m = 0, l = 0;
    const double acc = online_weighted_mean(s, v, block, &m, &l);
    EXPECT_EQ(m, mx);
    EXPECT_NEAR(acc / l, num / den, 1e-4 * std::abs(num / den) + 1e-5) << block;
  }
}

TEST(SoftmaxMath, UpdateFactors) {
  float m = -HUGE_VALF;
  EXPECT_EQ(online_softmax_update(&m, 2.0f), 0.0f);  // nothing accumulated yet
  EXPECT_EQ(m, 2.0f);
  EXPECT_EQ(online_softmax_update(&m, 1.0f), 1.0f);  // max did not grow
  EXPECT_EQ(m, 2.0f);
  EXPECT_FLOAT_EQ(online_softmax_update(&m, 3.0f), std::exp(-1.0f));
  EXPECT_EQ(m, 3.0f);
  EXPECT_EQ(online_softmax_merge_weight(-HUGE_VALF, 3.0f), 0.0f);  // an empty split-K part
  EXPECT_FLOAT_EQ(online_softmax_merge_weight(1.0f, 3.0f), std::exp(-2.0f));
}

TEST(SoftmaxMath, SplitKMergeEqualsOnePass) {
  std::mt19937 rng(9);
  std::normal_distribution<float> d(0.0f, 3.0f);
  std::vector<float> s(301), v(301);
  for (auto& x : s) x = d(rng);
  for (auto& x : v) x = d(rng);
  float m_all = 0, l_all = 0;
  const double want = online_weighted_mean(s, v, 32, &m_all, &l_all) / l_all;
  // Four parts (one empty), merged as the CUDA combine kernel does.
  const std::size_t cuts[] = {0, 100, 100, 250, 301};
  float ms[4], ls[4];
  double accs[4];
  float mmax = -HUGE_VALF;
  for (int p = 0; p < 4; ++p) {
    const std::vector<float> sp(s.begin() + cuts[p], s.begin() + cuts[p + 1]), vp(v.begin() + cuts[p], v.begin() + cuts[p + 1]);
    ms[p] = -HUGE_VALF;
    ls[p] = 0;
    accs[p] = sp.empty() ? 0.0 : online_weighted_mean(sp, vp, 32, &ms[p], &ls[p]);
    mmax = std::max(mmax, ms[p]);
  }
  double num = 0, den = 0;
  for (int p = 0; p < 4; ++p) {
    const float w = online_softmax_merge_weight(ms[p], mmax);
    num += w * accs[p];
    den += w * ls[p];
  }
  EXPECT_NEAR(num / den, want, 1e-5 * std::abs(want) + 1e-6);
}

TEST(SoftmaxMath, Silu) {
  EXPECT_EQ(silu(0.0f), 0.0f);
  EXPECT_FLOAT_EQ(silu(1.0f), 1.0f / (1.0f + std::exp(-1.0f)));
  EXPECT_FLOAT_EQ(silu(-100.0f), -100.0f / (1.0f + std::exp(100.0f)));
  EXPECT_FLOAT_EQ(silu(100.0f), 100.0f);
}

}  // namespace
}  // namespace rapide::inference
