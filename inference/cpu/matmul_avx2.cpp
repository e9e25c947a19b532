// AVX2+FMA+F16C tile kernels for the CPU matmul (see matmul.h): 4 weight rows x 1..4 tokens.
// This is the only file of inference/cpu compiled with -mavx2 -mfma -mf16c; matmul.cpp calls it
// only after cpuid reported those features.
//
// Each kernel keeps, for every (row, token) pair of the tile, the integer sum of one block in 8
// int32 lanes; a horizontal reduction (three hadds and one add) turns the 4 pairs of a token into
// one 4-lane vector, converted to float and scaled by d_row * d_token with one FMA. So the float
// work per block is shared by 4 pairs, and the weight unpacking (nibbles, scales) is shared by
// the tokens of the tile.
//
// Signed x signed int8 products (Q8_0, Q4_0 weights against Q8_0 activations) use
// maddubs(|w|, sign(a, w)); the unsigned K-quant levels go straight into maddubs, their sub-block
// scales are applied by madd in int16 -> int32, and the min / offset terms come from the Q8_K
// block sums (bsums).
//
// ODR caution (as quant/kernels_avx2.cpp): no inline functions from shared headers here; only the
// block layouts and the internal-linkage helpers of quant/avx2_common.h.
#include "cpu/matmul.h"
#include "quant/avx2_common.h"
#include "rapide/inference/quant/blocks.h"

#include <immintrin.h>

#include <cstdint>
#include <type_traits>

namespace rapide::inference::cpu::mm {
namespace {

namespace q = rapide::inference::quant;
using avx2::f16;
using avx2::k_scales_mins;
using avx2::word_selector;

// [sum(v0), sum(v1), sum(v2), sum(v3)] of four 8-lane int32 vectors.
inline __m128i reduce4(__m256i v0, __m256i v1, __m256i v2, __m256i v3) {
  const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(v0, v1), _mm256_hadd_epi32(v2, v3));
  return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

// The same for four 4-lane vectors.
inline __m128i reduce4(__m128i v0, __m128i v1, __m128i v2, __m128i v3) {
  return _mm_hadd_epi32(_mm_hadd_epi32(v0, v1), _mm_hadd_epi32(v2, v3));
}

// Four half floats (raw bits) to floats.
inline __m128 f16x4(std::uint16_t a, std::uint16_t b, std::uint16_t c, std::uint16_t d) {
  return _mm_cvtph_ps(_mm_setr_epi16(static_cast<short>(a), static_cast<short>(b), static_cast<short>(c),
                                     static_cast<short>(d), 0, 0, 0, 0));
}


template <class Block>
inline const Block* block_at(const std::uint8_t* row, std::int64_t i) {
  return reinterpret_cast<const Block*>(row) + i;
}

inline void store_tokens(const Tile& g, const __m128* acc, int n_tokens) {
  for (int t = 0; t < n_tokens; ++t) _mm_storeu_ps(g.y + t * g.ldy, acc[t]);
}

// Software prefetch of block i of the next group of 4 rows (the group after this tile's, 4 row
// strides further): each row of a group is a short stream (one row, 1-2 KB), too short for the
// hardware prefetcher to train on, so without this every tile stalls on memory.
template <class Block>
inline void prefetch_next_group(const Tile& g, std::int64_t i) {
  const std::uint8_t* next = g.w + 4 * g.w_stride + static_cast<std::size_t>(i) * sizeof(Block);
  for (int r = 0; r < 4; ++r)
    for (std::size_t off = 0; off < sizeof(Block); off += 64)
      _mm_prefetch(reinterpret_cast<const char*>(next + r * g.w_stride + off), _MM_HINT_T0);
}

// --- Q8_0 and Q4_0 weights (signed levels) x Q8_0 activations ---------------------------------

struct Q8_0W {
  using Block = q::BlockQ8_0;
  static __m256i levels(const Block* b) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->qs)); }
};

struct Q4_0W {
  using Block = q::BlockQ4_0;
  static __m256i levels(const Block* b) {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b->qs));
    const __m256i both = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);
    return _mm256_sub_epi8(_mm256_and_si256(both, _mm256_set1_epi8(0x0F)), _mm256_set1_epi8(8));
  }
};

template <class W, int T>
void tile_q8_0_act(const Tile& g) {
  using Block = typename W::Block;
  const __m256i ones = _mm256_set1_epi16(1);
  const std::uint8_t* rows[4] = {g.w, g.w + g.w_stride, g.w + 2 * g.w_stride, g.w + 3 * g.w_stride};
  __m128 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm_setzero_ps();
  for (std::int64_t i = 0; i < g.n_blocks; ++i) {
    prefetch_next_group<Block>(g, i);
    const Block* b0 = block_at<Block>(rows[0], i);
    const Block* b1 = block_at<Block>(rows[1], i);
    const Block* b2 = block_at<Block>(rows[2], i);
    const Block* b3 = block_at<Block>(rows[3], i);
    const __m256i x[4] = {W::levels(b0), W::levels(b1), W::levels(b2), W::levels(b3)};
    const __m256i ax[4] = {_mm256_sign_epi8(x[0], x[0]), _mm256_sign_epi8(x[1], x[1]), _mm256_sign_epi8(x[2], x[2]),
                           _mm256_sign_epi8(x[3], x[3])};
    const __m128 dw = f16x4(b0->d, b1->d, b2->d, b3->d);
    for (int t = 0; t < T; ++t) {
      const q::BlockQ8_0* a = block_at<q::BlockQ8_0>(g.a + t * g.a_stride, i);
      const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a->qs));
      __m256i p[4];
      for (int r = 0; r < 4; ++r)
        p[r] = _mm256_madd_epi16(_mm256_maddubs_epi16(ax[r], _mm256_sign_epi8(y, x[r])), ones);
      const __m128 s = _mm_cvtepi32_ps(reduce4(p[0], p[1], p[2], p[3]));
      acc[t] = _mm_fmadd_ps(s, _mm_mul_ps(dw, _mm_set1_ps(f16(a->d))), acc[t]);
    }
  }
  store_tokens(g, acc, T);
}

// --- K-quants x Q8_K activations --------------------------------------------------------------

// Q4_K / Q5_K: per super-block and row, 8 chunks of 32 unsigned levels with one scale each.
template <bool kFive>
struct Q45K {
  using Block = std::conditional_t<kFive, q::BlockQ5_K, q::BlockQ4_K>;
};

template <bool kFive, int T>
void tile_q45_k(const Tile& g) {
  using Block = typename Q45K<kFive>::Block;
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i bit4 = _mm256_set1_epi8(0x10);
  const std::uint8_t* rows[4] = {g.w, g.w + g.w_stride, g.w + 2 * g.w_stride, g.w + 3 * g.w_stride};
  __m128 acc[T], acc_min[T];
  for (int t = 0; t < T; ++t) acc[t] = acc_min[t] = _mm_setzero_ps();
  for (std::int64_t i = 0; i < g.n_blocks; ++i) {
    prefetch_next_group<Block>(g, i);
    const Block* b[4] = {block_at<Block>(rows[0], i), block_at<Block>(rows[1], i), block_at<Block>(rows[2], i),
                         block_at<Block>(rows[3], i)};
    __m256i scales[4];
    __m128i mins[4];
    for (int r = 0; r < 4; ++r) {
      __m128i sc;
      k_scales_mins(b[r]->scales, sc, mins[r]);
      scales[r] = _mm256_broadcastsi128_si256(sc);
    }
    const q::BlockQ8_K* a[T];
    for (int t = 0; t < T; ++t) a[t] = block_at<q::BlockQ8_K>(g.a + t * g.a_stride, i);
    __m256i sum[T][4];
    for (int t = 0; t < T; ++t)
      for (int r = 0; r < 4; ++r) sum[t][r] = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      for (int r = 0; r < 4; ++r) {
        const __m256i qv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[r]->qs + 32 * c));
        __m256i q1 = _mm256_and_si256(qv, low4);
        __m256i q2 = _mm256_and_si256(_mm256_srli_epi16(qv, 4), low4);
        if constexpr (kFive) {
          const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[r]->qh));
          // Bits 2c and 2c+1 of qh moved to bit 4.
          const __m256i h1 = c < 2 ? _mm256_slli_epi16(qh, 4 - 2 * c) : _mm256_srli_epi16(qh, 2 * c - 4);
          const __m256i h2 = c < 2 ? _mm256_slli_epi16(qh, 3 - 2 * c) : _mm256_srli_epi16(qh, 2 * c - 3);
          q1 = _mm256_or_si256(q1, _mm256_and_si256(h1, bit4));
          q2 = _mm256_or_si256(q2, _mm256_and_si256(h2, bit4));
        }
        const __m256i s1 = _mm256_shuffle_epi8(scales[r], word_selector(2 * c));
        const __m256i s2 = _mm256_shuffle_epi8(scales[r], word_selector(2 * c + 1));
        for (int t = 0; t < T; ++t) {
          const __m256i y1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t]->qs + 64 * c));
          const __m256i y2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t]->qs + 64 * c + 32));
          const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(q1, y1), s1);
          const __m256i p2 = _mm256_madd_epi16(_mm256_maddubs_epi16(q2, y2), s2);
          sum[t][r] = _mm256_add_epi32(sum[t][r], _mm256_add_epi32(p1, p2));
        }
      }
    }
    const __m128 d = f16x4(b[0]->d, b[1]->d, b[2]->d, b[3]->d);
    const __m128 dmin = f16x4(b[0]->dmin, b[1]->dmin, b[2]->dmin, b[3]->dmin);
    for (int t = 0; t < T; ++t) {
      const __m128i b0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a[t]->bsums));
      const __m128i b1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a[t]->bsums + 8));
      const __m128i bs = _mm_hadd_epi16(b0, b1);  // sums of the 8 chunks of 32
      const __m128i mp = reduce4(_mm_madd_epi16(mins[0], bs), _mm_madd_epi16(mins[1], bs), _mm_madd_epi16(mins[2], bs),
                                 _mm_madd_epi16(mins[3], bs));
      const __m128 dy = _mm_set1_ps(a[t]->d);
      acc[t] = _mm_fmadd_ps(_mm_cvtepi32_ps(reduce4(sum[t][0], sum[t][1], sum[t][2], sum[t][3])), _mm_mul_ps(d, dy),
                            acc[t]);
      acc_min[t] = _mm_fmadd_ps(_mm_cvtepi32_ps(mp), _mm_mul_ps(dmin, dy), acc_min[t]);
    }
  }
  for (int t = 0; t < T; ++t) acc[t] = _mm_sub_ps(acc[t], acc_min[t]);
  store_tokens(g, acc, T);
}

// Q6_K: 16 sub-blocks of 16 with signed int8 scales; levels 0..63 with offset 32. The offset is
// taken out once per super-block: sum_j sc_j * 32 * bsum_j.
template <int T>
void tile_q6_k(const Tile& g) {
  using Block = q::BlockQ6_K;
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i two = _mm256_set1_epi8(3);
  const __m256i hi2 = _mm256_set1_epi8(0x30);
  const std::uint8_t* rows[4] = {g.w, g.w + g.w_stride, g.w + 2 * g.w_stride, g.w + 3 * g.w_stride};
  __m128 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm_setzero_ps();
  for (std::int64_t i = 0; i < g.n_blocks; ++i) {
    prefetch_next_group<Block>(g, i);
    const Block* b[4] = {block_at<Block>(rows[0], i), block_at<Block>(rows[1], i), block_at<Block>(rows[2], i),
                         block_at<Block>(rows[3], i)};
    const q::BlockQ8_K* a[T];
    for (int t = 0; t < T; ++t) a[t] = block_at<q::BlockQ8_K>(g.a + t * g.a_stride, i);
    __m256i sum[T][4];
    for (int r = 0; r < 4; ++r) {
      const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b[r]->scales)));
      // Offset term: 32 * sum_j sc_j * bsum_j, subtracted from the start.
      for (int t = 0; t < T; ++t) {
        const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t]->bsums));
        sum[t][r] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(_mm256_madd_epi16(sc16, bs), 5));
      }
      for (int h = 0; h < 2; ++h) {
        const __m256i sch = h == 0 ? _mm256_permute2x128_si256(sc16, sc16, 0x00) : _mm256_permute2x128_si256(sc16, sc16, 0x11);
        const std::uint8_t* ql = b[r]->ql + 64 * h;
        const __m256i qa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
        const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
        const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[r]->qh + 32 * h));
        const __m256i qk[4] = {
            _mm256_or_si256(_mm256_and_si256(qa, low4), _mm256_slli_epi16(_mm256_and_si256(qh, two), 4)),
            _mm256_or_si256(_mm256_and_si256(qb, low4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), two), 4)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qa, 4), low4), _mm256_and_si256(qh, hi2)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qb, 4), low4), _mm256_and_si256(_mm256_srli_epi16(qh, 2), hi2)),
        };
        for (int k = 0; k < 4; ++k) {
          // Elements l < 16 (low lane) use scale 2k of this half, l >= 16 scale 2k + 1.
          const __m256i select = _mm256_set_m128i(_mm_set1_epi16(static_cast<short>(0x0100 + 0x0202 * (2 * k + 1))),
                                                  _mm_set1_epi16(static_cast<short>(0x0100 + 0x0202 * (2 * k))));
          const __m256i s = _mm256_shuffle_epi8(sch, select);
          for (int t = 0; t < T; ++t) {
            const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t]->qs + 128 * h + 32 * k));
            sum[t][r] = _mm256_add_epi32(sum[t][r], _mm256_madd_epi16(_mm256_maddubs_epi16(qk[k], y), s));
          }
        }
      }
    }
    const __m128 d = f16x4(b[0]->d, b[1]->d, b[2]->d, b[3]->d);
    for (int t = 0; t < T; ++t)
      acc[t] = _mm_fmadd_ps(_mm_cvtepi32_ps(reduce4(sum[t][0], sum[t][1], sum[t][2], sum[t][3])),
                            _mm_mul_ps(d, _mm_set1_ps(a[t]->d)), acc[t]);
  }
  store_tokens(g, acc, T);
}

template <template <int> class K>
void dispatch_tokens(const Tile& g, int n_tokens) {
  switch (n_tokens) {
    case 1: K<1>::run(g); break;
    case 2: K<2>::run(g); break;
    case 3: K<3>::run(g); break;
    default: K<4>::run(g); break;
  }
}

template <int T> struct KQ8_0 { static void run(const Tile& g) { tile_q8_0_act<Q8_0W, T>(g); } };
template <int T> struct KQ4_0 { static void run(const Tile& g) { tile_q8_0_act<Q4_0W, T>(g); } };
template <int T> struct KQ4_K { static void run(const Tile& g) { tile_q45_k<false, T>(g); } };
template <int T> struct KQ5_K { static void run(const Tile& g) { tile_q45_k<true, T>(g); } };
template <int T> struct KQ6_K { static void run(const Tile& g) { tile_q6_k<T>(g); } };

// --- F32 weights x float activations -----------------------------------------------------------

// R rows x T tokens of float dot products, 8 columns at a time: each weight vector loaded once
// serves T tokens and each activation vector R rows (R * T accumulators, at most 12 of the 16
// registers), where one row dot per (row, token) pair needs two loads per FMA.
template <int R, int T>
void f32_tile(const F32Tile& g) {
  __m256 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  std::int64_t c = 0;
  for (; c + 8 <= g.n_cols; c += 8) {
    __m256 xv[T];
    for (int t = 0; t < T; ++t) xv[t] = _mm256_loadu_ps(g.x + static_cast<std::size_t>(t) * g.x_stride + c);
    for (int r = 0; r < R; ++r) {
      const __m256 wv = _mm256_loadu_ps(g.w + static_cast<std::size_t>(r) * g.w_stride + c);
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) {
      __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc[r][t]), _mm256_extractf128_ps(acc[r][t], 1));
      h = _mm_add_ps(h, _mm_movehl_ps(h, h));
      h = _mm_add_ss(h, _mm_movehdup_ps(h));
      float sum = _mm_cvtss_f32(h);
      const float* wr = g.w + static_cast<std::size_t>(r) * g.w_stride;
      const float* xt = g.x + static_cast<std::size_t>(t) * g.x_stride;
      for (std::int64_t k = c; k < g.n_cols; ++k) sum += wr[k] * xt[k];
      g.y[t * g.ldy + r] = sum;
    }
}

template <int R>
void f32_tile_rows(const F32Tile& g, int n_tokens) {
  switch (n_tokens) {
    case 1: f32_tile<R, 1>(g); break;
    case 2: f32_tile<R, 2>(g); break;
    default: f32_tile<R, 3>(g); break;
  }
}

}  // namespace

void avx2_f32_tile(const F32Tile& g, int n_rows, int n_tokens) {
  switch (n_rows) {
    case 1: f32_tile_rows<1>(g, n_tokens); break;
    case 2: f32_tile_rows<2>(g, n_tokens); break;
    case 3: f32_tile_rows<3>(g, n_tokens); break;
    default: f32_tile_rows<4>(g, n_tokens); break;
  }
}

TileFn avx2_tile(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::Q8_0: return dispatch_tokens<KQ8_0>;
    case TensorType::Q4_0: return dispatch_tokens<KQ4_0>;
    case TensorType::Q4_K: return dispatch_tokens<KQ4_K>;
    case TensorType::Q5_K: return dispatch_tokens<KQ5_K>;
    case TensorType::Q6_K: return dispatch_tokens<KQ6_K>;
    default: return nullptr;
  }
}

}  // namespace rapide::inference::cpu::mm
