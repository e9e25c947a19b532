// The CPU backend's attention against a double-precision reference over the same F16 cache:
// grouped-query heads, prompts spanning many KV tiles, decode steps deep in the cache, sliding
// windows, head sizes that are not multiples of 8 (scalar path), different K and V widths,
// large scores (online-softmax rescaling) and several thread counts.
#include "rapide/inference/backend.h"
#include "rapide/inference/quant/float16.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace rapide::inference {
namespace {

struct Case {
  int n_head, n_head_kv, head_dim, head_dim_v;
  int pos0, n_tokens, window, threads;
  float q_scale;  // larger: peakier softmax
};

std::ostream& operator<<(std::ostream& os, const Case& c) {
  return os << "heads " << c.n_head << "/" << c.n_head_kv << " dims " << c.head_dim << "/" << c.head_dim_v << " pos0 "
            << c.pos0 << " tokens " << c.n_tokens << " window " << c.window << " threads " << c.threads;
}

float f16_round(float x) { return quant::f16_to_f32(quant::f32_to_f16(x)); }

class CpuAttention : public ::testing::TestWithParam<Case> {};

TEST_P(CpuAttention, MatchesDoublePrecisionReference) {
  const Case c = GetParam();
  auto backend = make_cpu_backend({c.threads});
  const int total = c.pos0 + c.n_tokens;
  const int k_width = c.n_head_kv * c.head_dim, v_width = c.n_head_kv * c.head_dim_v;
  auto kv = backend->new_kv_cache(1, total + 3, k_width, v_width);
  ASSERT_TRUE(kv.ok()) << kv.message();

  std::mt19937 rng(42);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> k(static_cast<std::size_t>(total) * k_width), v(static_cast<std::size_t>(total) * v_width);
  for (auto& x : k) x = nd(rng);
  for (auto& x : v) x = nd(rng);
  // Stored in two calls (the earlier positions as a previous forward would have).
  if (c.pos0 > 0) backend->kv_store(**kv, 0, 0, c.pos0, k.data(), v.data());
  backend->kv_store(**kv, 0, c.pos0, c.n_tokens, k.data() + static_cast<std::size_t>(c.pos0) * k_width,
                    v.data() + static_cast<std::size_t>(c.pos0) * v_width);
  std::vector<float> q(static_cast<std::size_t>(c.n_tokens) * c.n_head * c.head_dim);
  for (auto& x : q) x = c.q_scale * nd(rng);

  AttentionParams p;
  p.n_head = c.n_head;
  p.n_head_kv = c.n_head_kv;
  p.head_dim = c.head_dim;
  p.head_dim_v = c.head_dim_v;
  p.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  p.sliding_window = c.window;
  std::vector<float> out(static_cast<std::size_t>(c.n_tokens) * c.n_head * c.head_dim_v, -7.0f);
  backend->attention(**kv, 0, q.data(), c.pos0, c.n_tokens, out.data(), p);

  const int group = c.n_head / c.n_head_kv;
  double worst = 0.0;
  for (int t = 0; t < c.n_tokens; ++t) {
    const int pos = c.pos0 + t;
    const int lo = c.window > 0 ? std::max(0, pos - c.window + 1) : 0;
    for (int h = 0; h < c.n_head; ++h) {
      const int g = h / group;
      const float* qh = q.data() + (static_cast<std::size_t>(t) * c.n_head + h) * c.head_dim;
      std::vector<double> s(static_cast<std::size_t>(pos + 1));
      double mx = -1e300;
      for (int j = lo; j <= pos; ++j) {
        double d = 0;
        for (int i = 0; i < c.head_dim; ++i)
          d += static_cast<double>(qh[i]) * f16_round(k[static_cast<std::size_t>(j) * k_width + g * c.head_dim + i]);
        s[static_cast<std::size_t>(j)] = d * p.scale;
        mx = std::max(mx, s[static_cast<std::size_t>(j)]);
      }
      double l = 0;
      std::vector<double> o(static_cast<std::size_t>(c.head_dim_v), 0.0);
      for (int j = lo; j <= pos; ++j) {
        const double e = std::exp(s[static_cast<std::size_t>(j)] - mx);
        l += e;
        for (int i = 0; i < c.head_dim_v; ++i)
          o[static_cast<std::size_t>(i)] += e * f16_round(v[static_cast<std::size_t>(j) * v_width + g * c.head_dim_v + i]);
      }
      const float* got = out.data() + (static_cast<std::size_t>(t) * c.n_head + h) * c.head_dim_v;
      for (int i = 0; i < c.head_dim_v; ++i)
        worst = std::max(worst, std::abs(o[static_cast<std::size_t>(i)] / l - static_cast<double>(got[i])));
    }
  }
  // Values are N(0,1); float accumulation over up to ~1000 keys.
  EXPECT_LT(worst, 2e-4) << c;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, CpuAttention,
    ::testing::Values(Case{12, 2, 128, 128, 0, 150, 0, 2, 1.0f},   // qwen2.5-1.5b heads, 3 KV tiles
                      Case{12, 2, 128, 128, 0, 200, 0, 2, 6.0f},   // peaky scores: rescaling across tiles
                      Case{12, 2, 128, 128, 700, 1, 0, 2, 1.0f},   // decode deep in the cache
                      Case{16, 4, 128, 128, 130, 3, 0, 3, 1.0f},   // a few tokens after a prompt
                      Case{4, 4, 64, 64, 0, 97, 0, 1, 1.0f},       // no grouping, one thread
                      Case{8, 2, 64, 32, 5, 70, 9, 2, 1.0f},       // sliding window, dv != dk
                      Case{8, 1, 64, 64, 60, 200, 70, 4, 2.0f},    // window spanning tile edges, 4 threads
                      Case{6, 2, 36, 20, 0, 81, 0, 2, 1.0f},       // sizes not multiples of 8: scalar path
                      Case{6, 3, 36, 20, 40, 1, 0, 2, 1.0f},       // scalar decode
                      Case{64, 1, 16, 16, 0, 40, 0, 2, 1.0f}));    // group larger than a task's rows

}  // namespace
}  // namespace rapide::inference
