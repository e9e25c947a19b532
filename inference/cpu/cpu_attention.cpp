// Causal grouped-query attention over the F16 KV cache, flash-attention style.
//
// Work split: one task per (KV head g, tile of query tokens, slice of g's query heads). The task's
// query rows (tokens x the query heads that read KV head g: up to kMaxRows of them) walk the
// visible keys in tiles of kTile positions. Each K/V tile is converted from F16 once per task
// (K transposed to [head_dim][kTile] so the scores of one query are a broadcast-FMA sweep with no
// horizontal sums; V as [kTile][head_dim_v]) and then used by every row of the task, so a KV tile
// is read from the cache once per group of rows instead of once per (token, head) pair.
// Per row an online softmax keeps the running max m and denominator l; the output accumulator
// is rescaled by exp(m_old - m_new) when the max grows. Memory is O(rows x head_dim) per thread
// whatever the prompt length: no n^2 score matrix. Tasks with the latest query tiles (the most
// keys) are handed out first so the causal triangle does not leave a long tail.
//
// Query head h reads KV head h / (n_head / n_head_kv). Sliding window: a query at position pos
// sees keys in (pos - window, pos]. The AVX2+FMA+F16C path needs head_dim and head_dim_v to be
// multiples of 8; other sizes (and other CPUs) take the scalar path, the same algorithm.
#include "cpu/cpu_backend.h"
#include "cpu/kernels.h"
#include "cpu/simd_math.h"

#include "rapide/inference/quant/float16.h"
#include "rapide/inference/softmax_math.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace rapide::inference::cpu {

namespace {

constexpr std::int32_t kTile = 64;     // keys per KV tile
constexpr std::int32_t kMaxRows = 48;  // query rows per task (tokens x heads of one KV group)
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// One task's view of the problem.
struct Shape {
  std::int32_t head_dim, head_dim_v, n_head, group;
  float scale;
};

// Per-thread scratch, carved out of the backend's scratch buffer.
struct Scratch {
  float* kt;   // [head_dim][kTile]  K tile, transposed
  float* vt;   // [kTile][head_dim_v]
  float* s;    // [kTile]            scores / probabilities of one row
  float* acc;  // [rows][head_dim_v]
  float* m;    // [rows]
  float* l;    // [rows]
};

std::int64_t scratch_floats(const Shape& sh) {
  return static_cast<std::int64_t>(kTile) * (sh.head_dim + sh.head_dim_v + 1) +
         static_cast<std::int64_t>(std::max(kMaxRows, sh.group)) * (sh.head_dim_v + 2) + 64;
}

Scratch carve(float* base, const Shape& sh, std::int32_t rows) {
  Scratch s;
  s.kt = base;
  s.vt = s.kt + static_cast<std::size_t>(sh.head_dim) * kTile;
  s.s = s.vt + static_cast<std::size_t>(kTile) * sh.head_dim_v;
  s.acc = s.s + kTile;
  s.m = s.acc + static_cast<std::size_t>(rows) * sh.head_dim_v;
  s.l = s.m + rows;
  return s;
}

// ---- scalar kernels ---------------------------------------------------------------------------

void load_tiles_scalar(const CpuKvCache& kv, std::int32_t layer, std::int32_t g, std::int32_t k0, std::int32_t nk,
                       const Shape& sh, Scratch& sc) {
  for (std::int32_t j = 0; j < kTile; ++j) {
    const std::uint16_t* kr = j < nk ? kv.k(layer, k0 + j) + static_cast<std::size_t>(g) * sh.head_dim : nullptr;
    for (std::int32_t d = 0; d < sh.head_dim; ++d)
      sc.kt[static_cast<std::size_t>(d) * kTile + j] = kr ? quant::f16_to_f32(kr[d]) : 0.0f;
  }
  for (std::int32_t j = 0; j < nk; ++j) {
    const std::uint16_t* vr = kv.v(layer, k0 + j) + static_cast<std::size_t>(g) * sh.head_dim_v;
    float* dst = sc.vt + static_cast<std::size_t>(j) * sh.head_dim_v;
    for (std::int32_t i = 0; i < sh.head_dim_v; ++i) dst[i] = quant::f16_to_f32(vr[i]);
  }
}

void scores_scalar(const float* q, const float* kt, std::int32_t head_dim, float scale, std::int32_t jb,
                   std::int32_t je, float* s) {
  for (std::int32_t j = jb; j < je; ++j) s[j] = 0.0f;
  for (std::int32_t d = 0; d < head_dim; ++d) {
    const float qd = q[d];
    const float* row = kt + static_cast<std::size_t>(d) * kTile;
    for (std::int32_t j = jb; j < je; ++j) s[j] += qd * row[j];
  }
  for (std::int32_t j = jb; j < je; ++j) s[j] *= scale;
}

// s[j] = exp(s[j] - m) for j in [jb, je); returns their sum.
float exp_sum_scalar(float* s, std::int32_t jb, std::int32_t je, float m) {
  float sum = 0.0f;
  for (std::int32_t j = jb; j < je; ++j) {
    s[j] = std::exp(s[j] - m);
    sum += s[j];
  }
  return sum;
}

void pv_scalar(const float* p, const float* vt, std::int32_t jb, std::int32_t je, std::int32_t dv, float* acc) {
  for (std::int32_t j = jb; j < je; ++j) {
    const float pj = p[j];
    const float* v = vt + static_cast<std::size_t>(j) * dv;
    for (std::int32_t i = 0; i < dv; ++i) acc[i] += pj * v[i];
  }
}

// ---- AVX2 + FMA + F16C kernels -----------------------------------------------------------------

#if defined(__x86_64__)
#define RAPIDE_ATTN_AVX2 RAPIDE_TARGET_AVX2

RAPIDE_ATTN_AVX2 inline void transpose8(__m256& r0, __m256& r1, __m256& r2, __m256& r3, __m256& r4, __m256& r5,
                                        __m256& r6, __m256& r7) {
  const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
  const __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r0 = _mm256_permute2f128_ps(u0, u4, 0x20);
  r1 = _mm256_permute2f128_ps(u1, u5, 0x20);
  r2 = _mm256_permute2f128_ps(u2, u6, 0x20);
  r3 = _mm256_permute2f128_ps(u3, u7, 0x20);
  r4 = _mm256_permute2f128_ps(u0, u4, 0x31);
  r5 = _mm256_permute2f128_ps(u1, u5, 0x31);
  r6 = _mm256_permute2f128_ps(u2, u6, 0x31);
  r7 = _mm256_permute2f128_ps(u3, u7, 0x31);
}

RAPIDE_ATTN_AVX2 inline __m256 load_f16x8(const std::uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// K tile transposed 8x8 at a time (rows past nk are zeros); V tile converted row by row.
RAPIDE_ATTN_AVX2 void load_tiles_avx2(const CpuKvCache& kv, std::int32_t layer, std::int32_t g, std::int32_t k0,
                                      std::int32_t nk, const Shape& sh, Scratch& sc) {
  const std::size_t koff = static_cast<std::size_t>(g) * sh.head_dim;
  for (std::int32_t j0 = 0; j0 < kTile; j0 += 8) {
    if (j0 >= nk) {
      for (std::int32_t d = 0; d < sh.head_dim; ++d)
        _mm256_storeu_ps(sc.kt + static_cast<std::size_t>(d) * kTile + j0, _mm256_setzero_ps());
      continue;
    }
    const std::uint16_t* rows[8];
    for (int r = 0; r < 8; ++r) rows[r] = j0 + r < nk ? kv.k(layer, k0 + j0 + r) + koff : nullptr;
    for (std::int32_t d0 = 0; d0 < sh.head_dim; d0 += 8) {
      __m256 v[8];
      for (int r = 0; r < 8; ++r) v[r] = rows[r] ? load_f16x8(rows[r] + d0) : _mm256_setzero_ps();
      transpose8(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
      for (int r = 0; r < 8; ++r) _mm256_storeu_ps(sc.kt + static_cast<std::size_t>(d0 + r) * kTile + j0, v[r]);
    }
  }
  const std::size_t voff = static_cast<std::size_t>(g) * sh.head_dim_v;
  for (std::int32_t j = 0; j < nk; ++j) {
    const std::uint16_t* vr = kv.v(layer, k0 + j) + voff;
    float* dst = sc.vt + static_cast<std::size_t>(j) * sh.head_dim_v;
    for (std::int32_t i = 0; i < sh.head_dim_v; i += 8) _mm256_storeu_ps(dst + i, load_f16x8(vr + i));
  }
}

// s[j] = scale * q . K[j] for the 8-key blocks covering [jb, je): 8 accumulators, one broadcast
// of q[d] feeding up to 8 FMAs.
RAPIDE_ATTN_AVX2 void scores_avx2(const float* q, const float* kt, std::int32_t head_dim, float scale,
                                  std::int32_t jb, std::int32_t je, float* s) {
  const std::int32_t b0 = jb / 8, b1 = (je + 7) / 8;
  __m256 a[kTile / 8];
  for (std::int32_t b = b0; b < b1; ++b) a[b] = _mm256_setzero_ps();
  if (b0 == 0 && b1 == kTile / 8) {
    for (std::int32_t d = 0; d < head_dim; ++d) {
      const __m256 qd = _mm256_broadcast_ss(q + d);
      const float* row = kt + static_cast<std::size_t>(d) * kTile;
      a[0] = _mm256_fmadd_ps(qd, _mm256_loadu_ps(row), a[0]);
      a[1] = _mm256_fmadd_ps(qd, _mm256_loadu_ps(row + 8), a[1]);
      a[2] = _mm256_fmadd_ps(qd, _mm256_loadu_ps(row + 16), a[2]);
      a[3] = _mm256_fmadd_ps(qd, _mm256_loadu_ps(row + 24), a[3]);
      a[4] = _mm256_fmadd_ps(qd, _mm256_loadu_ps(row + 32), a[4]);
      a[5] = _mm256_fmadd_ps(qd, _mm256_loadu_ps(row + 40), a[5]);
      a[6] = _mm256_fmadd_ps(qd, _mm256_loadu_ps(row + 48), a[6]);
      a[7] = _mm256_fmadd_ps(qd, _mm256_loadu_ps(row + 56), a[7]);
    }
  } else {
    for (std::int32_t d = 0; d < head_dim; ++d) {
      const __m256 qd = _mm256_broadcast_ss(q + d);
      const float* row = kt + static_cast<std::size_t>(d) * kTile;
      for (std::int32_t b = b0; b < b1; ++b) a[b] = _mm256_fmadd_ps(qd, _mm256_loadu_ps(row + 8 * b), a[b]);
    }
  }
  const __m256 sc = _mm256_set1_ps(scale);
  for (std::int32_t b = b0; b < b1; ++b) _mm256_storeu_ps(s + 8 * b, _mm256_mul_ps(a[b], sc));
}

RAPIDE_ATTN_AVX2 float exp_sum_avx2(float* s, std::int32_t jb, std::int32_t je, float m) {
  const __m256 mv = _mm256_set1_ps(m);
  __m256 sum = _mm256_setzero_ps();
  std::int32_t j = jb;
  for (; j + 8 <= je; j += 8) {
    const __m256 e = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(s + j), mv));
    _mm256_storeu_ps(s + j, e);
    sum = _mm256_add_ps(sum, e);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, sum);
  float total = lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7];
  if (j < je) {
    alignas(32) float tail[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (std::int32_t i = j; i < je; ++i) tail[i - j] = s[i] - m;
    _mm256_store_ps(tail, exp_avx2(_mm256_load_ps(tail)));
    for (std::int32_t i = j; i < je; ++i) {
      s[i] = tail[i - j];
      total += s[i];
    }
  }
  return total;
}

// acc[0..dv) += sum_j p[j] * V[j] over [jb, je), 64 output dims (8 registers) at a time.
RAPIDE_ATTN_AVX2 void pv_avx2(const float* p, const float* vt, std::int32_t jb, std::int32_t je, std::int32_t dv,
                              float* acc) {
  std::int32_t i0 = 0;
  for (; i0 + 64 <= dv; i0 += 64) {
    __m256 a0 = _mm256_loadu_ps(acc + i0), a1 = _mm256_loadu_ps(acc + i0 + 8);
    __m256 a2 = _mm256_loadu_ps(acc + i0 + 16), a3 = _mm256_loadu_ps(acc + i0 + 24);
    __m256 a4 = _mm256_loadu_ps(acc + i0 + 32), a5 = _mm256_loadu_ps(acc + i0 + 40);
    __m256 a6 = _mm256_loadu_ps(acc + i0 + 48), a7 = _mm256_loadu_ps(acc + i0 + 56);
    for (std::int32_t j = jb; j < je; ++j) {
      const __m256 pj = _mm256_broadcast_ss(p + j);
      const float* v = vt + static_cast<std::size_t>(j) * dv + i0;
      a0 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(v), a0);
      a1 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(v + 8), a1);
      a2 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(v + 16), a2);
      a3 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(v + 24), a3);
      a4 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(v + 32), a4);
      a5 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(v + 40), a5);
      a6 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(v + 48), a6);
      a7 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(v + 56), a7);
    }
    _mm256_storeu_ps(acc + i0, a0);
    _mm256_storeu_ps(acc + i0 + 8, a1);
    _mm256_storeu_ps(acc + i0 + 16, a2);
    _mm256_storeu_ps(acc + i0 + 24, a3);
    _mm256_storeu_ps(acc + i0 + 32, a4);
    _mm256_storeu_ps(acc + i0 + 40, a5);
    _mm256_storeu_ps(acc + i0 + 48, a6);
    _mm256_storeu_ps(acc + i0 + 56, a7);
  }
  for (; i0 < dv; i0 += 8) {
    __m256 a = _mm256_loadu_ps(acc + i0);
    for (std::int32_t j = jb; j < je; ++j)
      a = _mm256_fmadd_ps(_mm256_broadcast_ss(p + j), _mm256_loadu_ps(vt + static_cast<std::size_t>(j) * dv + i0), a);
    _mm256_storeu_ps(acc + i0, a);
  }
}
#endif

bool use_avx2(const Shape& sh) {
#if defined(__x86_64__)
  return sh.head_dim % 8 == 0 && sh.head_dim_v % 8 == 0 && std::strcmp(kernel_isa(), "avx2") == 0;
#else
  (void)sh;
  return false;
#endif
}

}  // namespace

void CpuBackend::attention(const KvCache& kv_base, std::int32_t layer, const float* q, std::int32_t pos0,
                           std::int64_t n_tokens, float* out, const AttentionParams& p) {
  if (n_tokens <= 0) return;
  const auto& kv = static_cast<const CpuKvCache&>(kv_base);
  const Shape sh{p.head_dim, p.head_dim_v, p.n_head, p.n_head / p.n_head_kv, p.scale};
  const bool avx2 = use_avx2(sh);

  // Query tile: enough tokens that a task's rows (tokens x heads of the group) fill kMaxRows, but
  // no fewer than ~4 tasks per thread. Small batches (decode) with few KV heads split the group's
  // heads across tasks so every thread has work.
  const int n_threads = pool_.size();
  std::int64_t tile_tokens = std::max<std::int64_t>(1, kMaxRows / sh.group);
  const std::int64_t per_thread = (n_tokens * p.n_head_kv + 4 * n_threads - 1) / (4 * n_threads);
  tile_tokens = std::max<std::int64_t>(1, std::min(tile_tokens, per_thread));
  const std::int64_t n_qtiles = (n_tokens + tile_tokens - 1) / tile_tokens;
  std::int32_t head_parts = 1;
  if (n_qtiles * p.n_head_kv < 2 * n_threads)
    head_parts = static_cast<std::int32_t>(
        std::min<std::int64_t>(sh.group, (2 * n_threads + n_qtiles * p.n_head_kv - 1) / (n_qtiles * p.n_head_kv)));
  const std::int32_t heads_per_part = (sh.group + head_parts - 1) / head_parts;
  head_parts = (sh.group + heads_per_part - 1) / heads_per_part;
  const std::int64_t n_tasks = n_qtiles * p.n_head_kv * head_parts;

  const std::int64_t need = scratch_floats(sh);
  if (scratch_floats_ < need) ensure_scratch(need);

  const std::int64_t work = n_tokens * p.n_head * (pos0 + n_tokens / 2 + 1) * (p.head_dim + p.head_dim_v);
  pool_.run(n_tasks, [&](std::int64_t task, int thread) {
    // Latest query tiles first: they see the most keys.
    const std::int64_t qt = n_qtiles - 1 - task / (p.n_head_kv * head_parts);
    const std::int32_t g = static_cast<std::int32_t>((task / head_parts) % p.n_head_kv);
    const std::int32_t part = static_cast<std::int32_t>(task % head_parts);
    const std::int64_t t0 = qt * tile_tokens, t1 = std::min(n_tokens, t0 + tile_tokens);
    const std::int32_t hh0 = part * heads_per_part, hh1 = std::min(sh.group, hh0 + heads_per_part);
    const std::int32_t heads = hh1 - hh0;
    const std::int32_t rows = static_cast<std::int32_t>(t1 - t0) * heads;
    Scratch sc = carve(scratch_[static_cast<std::size_t>(thread)].data(), sh, rows);
    std::fill(sc.acc, sc.acc + static_cast<std::size_t>(rows) * sh.head_dim_v, 0.0f);
    std::fill(sc.m, sc.m + rows, kNegInf);
    std::fill(sc.l, sc.l + rows, 0.0f);

    auto first_key = [&](std::int64_t t) {
      const std::int32_t pos = pos0 + static_cast<std::int32_t>(t);
      return p.sliding_window > 0 ? std::max(0, pos - p.sliding_window + 1) : 0;
    };
    const std::int32_t k_lo = first_key(t0);
    const std::int32_t k_hi = pos0 + static_cast<std::int32_t>(t1 - 1);  // last key any row sees
    for (std::int32_t k0 = k_lo; k0 <= k_hi; k0 += kTile) {
      const std::int32_t nk = std::min(kTile, k_hi + 1 - k0);
#if defined(__x86_64__)
      if (avx2)
        load_tiles_avx2(kv, layer, g, k0, nk, sh, sc);
      else
#endif
        load_tiles_scalar(kv, layer, g, k0, nk, sh, sc);
      for (std::int32_t r = 0; r < rows; ++r) {
        const std::int64_t t = t0 + r / heads;
        const std::int32_t h = g * sh.group + hh0 + r % heads;
        const std::int32_t pos = pos0 + static_cast<std::int32_t>(t);
        const std::int32_t jb = std::max(first_key(t), k0) - k0;
        const std::int32_t je = std::min(pos + 1, k0 + nk) - k0;
        if (jb >= je) continue;  // this row sees no key of the tile
        const float* qh = q + (t * p.n_head + h) * sh.head_dim;
        float* acc = sc.acc + static_cast<std::size_t>(r) * sh.head_dim_v;
#if defined(__x86_64__)
        if (avx2)
          scores_avx2(qh, sc.kt, sh.head_dim, sh.scale, jb, je, sc.s);
        else
#endif
          scores_scalar(qh, sc.kt, sh.head_dim, sh.scale, jb, je, sc.s);
        float tile_max = kNegInf;
        for (std::int32_t j = jb; j < je; ++j) tile_max = std::max(tile_max, sc.s[j]);
        // The online-softmax step of softmax_math.h (the CUDA kernels run the same function).
        const float rescale = online_softmax_update(&sc.m[r], tile_max);
        if (rescale != 1.0f) {
          scale_f32(rescale, acc, sh.head_dim_v);
          sc.l[r] *= rescale;
        }
#if defined(__x86_64__)
        if (avx2) {
          sc.l[r] += exp_sum_avx2(sc.s, jb, je, sc.m[r]);
          pv_avx2(sc.s, sc.vt, jb, je, sh.head_dim_v, acc);
          continue;
        }
#endif
        sc.l[r] += exp_sum_scalar(sc.s, jb, je, sc.m[r]);
        pv_scalar(sc.s, sc.vt, jb, je, sh.head_dim_v, acc);
      }
    }
    for (std::int32_t r = 0; r < rows; ++r) {
      const std::int64_t t = t0 + r / heads;
      const std::int32_t h = g * sh.group + hh0 + r % heads;
      const float inv = sc.l[r] > 0.0f ? 1.0f / sc.l[r] : 0.0f;
      const float* acc = sc.acc + static_cast<std::size_t>(r) * sh.head_dim_v;
      float* o = out + (t * p.n_head + h) * sh.head_dim_v;
      for (std::int32_t i = 0; i < sh.head_dim_v; ++i) o[i] = acc[i] * inv;
    }
  }, work);
}

}  // namespace rapide::inference::cpu
