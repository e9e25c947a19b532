// Causal grouped-query attention over the F16 KV cache, one (query token, head) pair per task.
//
// No n^2 score matrix: each task walks its visible keys (the sliding window only, when there is
// one) in tiles of kTile positions with an online softmax (running max m and denominator l; the
// output accumulator is rescaled by exp(m_old - m_new) whenever the max grows), so memory is
// O(head_dim) per task whatever the prompt length. Query head h reads KV head h / (n_head /
// n_head_kv).
#include "cpu/cpu_backend.h"
#include "cpu/kernels.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace rapide::inference::cpu {

namespace {
constexpr std::int32_t kTile = 64;
}

void CpuBackend::attention(const KvCache& kv_base, std::int32_t layer, const float* q, std::int32_t pos0,
                           std::int64_t n_tokens, float* out, const AttentionParams& p) {
  const auto& kv = static_cast<const CpuKvCache&>(kv_base);
  const std::int32_t group = p.n_head / p.n_head_kv;
  const std::int64_t n_tasks = n_tokens * p.n_head;
  ensure_scratch(p.head_dim_v + kTile);
  // Work estimate: every query reads about pos0 + n_tokens/2 keys and values.
  const std::int64_t work = n_tasks * (pos0 + n_tokens / 2 + 1) * (p.head_dim + p.head_dim_v);
  pool_.run(n_tasks, [&](std::int64_t task, int thread) {
    const std::int64_t t = task / p.n_head;
    const std::int32_t h = static_cast<std::int32_t>(task % p.n_head);
    const std::int32_t g = h / group;
    const std::int32_t pos = pos0 + static_cast<std::int32_t>(t);
    const std::int32_t lo = p.sliding_window > 0 ? std::max(0, pos - p.sliding_window + 1) : 0;
    const float* qh = q + (t * p.n_head + h) * p.head_dim;
    float* acc = scratch_[static_cast<std::size_t>(thread)].data();
    float* scores = acc + p.head_dim_v;
    std::fill(acc, acc + p.head_dim_v, 0.0f);
    float m = -std::numeric_limits<float>::infinity();
    float l = 0.0f;
    for (std::int32_t k0 = lo; k0 <= pos; k0 += kTile) {
      const std::int32_t k1 = std::min(pos + 1, k0 + kTile);
      float tile_max = -std::numeric_limits<float>::infinity();
      for (std::int32_t j = k0; j < k1; ++j) {
        const float s = p.scale * dot_f32_f16(qh, kv.k(layer, j) + g * p.head_dim, p.head_dim);
        scores[j - k0] = s;
        tile_max = std::max(tile_max, s);
      }
      if (tile_max > m) {
        const float r = std::exp(m - tile_max);  // 0 on the first tile (m = -inf)
        if (l > 0.0f) scale_f32(r, acc, p.head_dim_v);
        l *= r;
        m = tile_max;
      }
      for (std::int32_t j = k0; j < k1; ++j) {
        const float e = std::exp(scores[j - k0] - m);
        l += e;
        axpy_f16(e, kv.v(layer, j) + g * p.head_dim_v, acc, p.head_dim_v);
      }
    }
    float* o = out + (t * p.n_head + h) * p.head_dim_v;
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    for (std::int32_t i = 0; i < p.head_dim_v; ++i) o[i] = acc[i] * inv;
  }, work);
}

}  // namespace rapide::inference::cpu
