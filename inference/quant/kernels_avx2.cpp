// AVX2+FMA+F16C row kernels for vec_dot (the only translation unit compiled with -mavx2 -mfma
// -mf16c; quant.cpp calls into it only after checking the CPU).
//
// What each computes is defined by the scalar reference in quant/dot.h: integer products of the
// quants summed per block (exact), then scaled in float. Here the integer sums stay in 8 int32
// lanes per block and are scaled with one FMA per block into 8 float accumulator lanes, so the
// result differs from the scalar one only by float summation order.
//
// Signed x signed int8 products use the usual trick: maddubs wants unsigned x signed, so the
// first operand's sign is moved onto the second (|x| * sign(x)*y). Weights that are unsigned
// by construction (Q4_K/Q5_K/Q6_K levels) go straight into maddubs.
//
// ODR caution: inline functions from shared headers must not be used here. Their out-of-line
// copies would be compiled with AVX2 and the linker may pick them for scalar callers too, which
// would then fault on CPUs without AVX2. Only layouts (blocks.h), local helpers and the
// internal-linkage helpers of quant/avx2_common.h are used.
#include "quant/avx2_common.h"
#include "quant/kernels.h"
#include "rapide/inference/quant/blocks.h"

#include <immintrin.h>

#include <cstdint>

namespace rapide::inference::quant::kernels {
namespace {

using avx2::dot_i8;
using avx2::f16;
using avx2::k_scales_mins;
using avx2::word_selector;

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// 32 nibbles of a 16-byte array: low nibbles in bytes 0-15, high nibbles in bytes 16-31.
inline __m256i unpack_nibbles_16(const std::uint8_t* p) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

inline float bf16(std::uint16_t h) {
  return _mm_cvtss_f32(_mm_castsi128_ps(_mm_cvtsi32_si128(static_cast<int>(static_cast<std::uint32_t>(h) << 16))));
}

// sum_j m_j * (bsums[2j] + bsums[2j+1]) in 4 int32 lanes.
inline __m128i k_min_products(__m128i m, const std::int16_t* bsums) {
  const __m128i b0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bsums));
  const __m128i b1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bsums + 8));
  return _mm_madd_epi16(m, _mm_hadd_epi16(b0, b1));
}


float dot_f32(const void* w, const void* a, std::int64_t n) {
  const auto* x = static_cast<const float*>(w);
  const auto* y = static_cast<const float*>(a);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  std::int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc0);
  float sum = hsum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; i < n; ++i) sum += x[i] * y[i];
  return sum;
}

inline __m256 load_f16x8(const std::uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

float dot_f16(const void* w, const void* a, std::int64_t n) {
  const auto* x = static_cast<const std::uint16_t*>(w);
  const auto* y = static_cast<const float*>(a);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  std::int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_fmadd_ps(load_f16x8(x + i), _mm256_loadu_ps(y + i), acc0);
    acc1 = _mm256_fmadd_ps(load_f16x8(x + i + 8), _mm256_loadu_ps(y + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(load_f16x8(x + i + 16), _mm256_loadu_ps(y + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(load_f16x8(x + i + 24), _mm256_loadu_ps(y + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(load_f16x8(x + i), _mm256_loadu_ps(y + i), acc0);
  float sum = hsum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; i < n; ++i) sum += f16(x[i]) * y[i];
  return sum;
}

inline __m256 load_bf16x8(const std::uint16_t* p) {
  const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

float dot_bf16(const void* w, const void* a, std::int64_t n) {
  const auto* x = static_cast<const std::uint16_t*>(w);
  const auto* y = static_cast<const float*>(a);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(load_bf16x8(x + i), _mm256_loadu_ps(y + i), acc0);
    acc1 = _mm256_fmadd_ps(load_bf16x8(x + i + 8), _mm256_loadu_ps(y + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(load_bf16x8(x + i), _mm256_loadu_ps(y + i), acc0);
  float sum = hsum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) sum += bf16(x[i]) * y[i];
  return sum;
}

float dot_q8_0(const void* w, const void* a, std::int64_t n) {
  const auto* x = static_cast<const BlockQ8_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  const std::int64_t nb = n / kQK8_0;
  __m256 acc = _mm256_setzero_ps();
  for (std::int64_t i = 0; i < nb; ++i) {
    const __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].qs));
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].qs));
    const __m256 d = _mm256_set1_ps(f16(x[i].d) * f16(y[i].d));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_i8(qx, qy)), acc);
  }
  return hsum(acc);
}

float dot_q4_0(const void* w, const void* a, std::int64_t n) {
  const auto* x = static_cast<const BlockQ4_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  const std::int64_t nb = n / kQK4_0;
  const __m256i eight = _mm256_set1_epi8(8);
  __m256 acc = _mm256_setzero_ps();
  for (std::int64_t i = 0; i < nb; ++i) {
    const __m256i qx = _mm256_sub_epi8(unpack_nibbles_16(x[i].qs), eight);
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].qs));
    const __m256 d = _mm256_set1_ps(f16(x[i].d) * f16(y[i].d));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_i8(qx, qy)), acc);
  }
  return hsum(acc);
}

// 32 bytes, byte i = 0xFF when bit i of the little-endian 4 bytes at p is set, else 0.
inline __m256i bits_to_bytes(const std::uint8_t* p) {
  std::uint32_t x;
  __builtin_memcpy(&x, p, 4);
  // Byte i takes source byte i / 8 (shuffles stay within 128-bit halves, so the upper half
  // indexes bytes 2 and 3 of its own copy of x), then tests its own bit i % 8.
  const __m256i select = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                          2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
  const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(x)), select);
  return _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
}

// Sum of the 32 activation quants of a block, in 8 int32 lanes.
inline __m256i sum_i8(__m256i y) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), y), _mm256_set1_epi16(1));
}

// Unsigned levels (0..31) times signed activations, in 8 int32 lanes.
inline __m256i dot_u8_i8(__m256i q, __m256i y) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(q, y), _mm256_set1_epi16(1));
}

float dot_q4_1(const void* w, const void* a, std::int64_t n) {
  const auto* x = static_cast<const BlockQ4_1*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  const std::int64_t nb = n / kQK4_1;
  __m256 acc = _mm256_setzero_ps(), acc_m = _mm256_setzero_ps();
  for (std::int64_t i = 0; i < nb; ++i) {
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].qs));
    const float dy = f16(y[i].d);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(f16(x[i].d) * dy), _mm256_cvtepi32_ps(dot_u8_i8(unpack_nibbles_16(x[i].qs), qy)), acc);
    acc_m = _mm256_fmadd_ps(_mm256_set1_ps(f16(x[i].m) * dy), _mm256_cvtepi32_ps(sum_i8(qy)), acc_m);
  }
  return hsum(_mm256_add_ps(acc, acc_m));
}

float dot_q5_0(const void* w, const void* a, std::int64_t n) {
  const auto* x = static_cast<const BlockQ5_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  const std::int64_t nb = n / kQK5_0;
  const __m256i bit4 = _mm256_set1_epi8(0x10), sixteen = _mm256_set1_epi8(16);
  __m256 acc = _mm256_setzero_ps();
  for (std::int64_t i = 0; i < nb; ++i) {
    const __m256i hi = _mm256_and_si256(bits_to_bytes(x[i].qh), bit4);
    const __m256i qx = _mm256_sub_epi8(_mm256_or_si256(unpack_nibbles_16(x[i].qs), hi), sixteen);
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].qs));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(f16(x[i].d) * f16(y[i].d)), _mm256_cvtepi32_ps(dot_i8(qx, qy)), acc);
  }
  return hsum(acc);
}

float dot_q5_1(const void* w, const void* a, std::int64_t n) {
  const auto* x = static_cast<const BlockQ5_1*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  const std::int64_t nb = n / kQK5_1;
  const __m256i bit4 = _mm256_set1_epi8(0x10);
  __m256 acc = _mm256_setzero_ps(), acc_m = _mm256_setzero_ps();
  for (std::int64_t i = 0; i < nb; ++i) {
    const __m256i hi = _mm256_and_si256(bits_to_bytes(x[i].qh), bit4);
    const __m256i qx = _mm256_or_si256(unpack_nibbles_16(x[i].qs), hi);
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].qs));
    const float dy = f16(y[i].d);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(f16(x[i].d) * dy), _mm256_cvtepi32_ps(dot_u8_i8(qx, qy)), acc);
    acc_m = _mm256_fmadd_ps(_mm256_set1_ps(f16(x[i].m) * dy), _mm256_cvtepi32_ps(sum_i8(qy)), acc_m);
  }
  return hsum(_mm256_add_ps(acc, acc_m));
}

float dot_q4_k(const void* w, const void* a, std::int64_t n) {
  const auto* x = static_cast<const BlockQ4_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  const std::int64_t nb = n / kQK_K;
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256 acc = _mm256_setzero_ps();
  __m128 acc_min = _mm_setzero_ps();
  for (std::int64_t i = 0; i < nb; ++i) {
    __m128i sc, m;
    k_scales_mins(x[i].scales, sc, m);
    const float dy = y[i].d;
    acc_min = _mm_fmadd_ps(_mm_set1_ps(dy * f16(x[i].dmin)), _mm_cvtepi32_ps(k_min_products(m, y[i].bsums)), acc_min);
    const __m256i scales = _mm256_broadcastsi128_si256(sc);
    __m256i sumi = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].qs + 32 * c));
      const __m256i q1 = _mm256_and_si256(q, low4);
      const __m256i q2 = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
      const __m256i y1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].qs + 64 * c));
      const __m256i y2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].qs + 64 * c + 32));
      const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(q1, y1), _mm256_shuffle_epi8(scales, word_selector(2 * c)));
      const __m256i p2 = _mm256_madd_epi16(_mm256_maddubs_epi16(q2, y2), _mm256_shuffle_epi8(scales, word_selector(2 * c + 1)));
      sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p1, p2));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(dy * f16(x[i].d)), _mm256_cvtepi32_ps(sumi), acc);
  }
  __m128 m4 = _mm_add_ps(acc_min, _mm_movehl_ps(acc_min, acc_min));
  m4 = _mm_add_ss(m4, _mm_movehdup_ps(m4));
  return hsum(acc) - _mm_cvtss_f32(m4);
}

float dot_q5_k(const void* w, const void* a, std::int64_t n) {
  const auto* x = static_cast<const BlockQ5_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  const std::int64_t nb = n / kQK_K;
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i bit4 = _mm256_set1_epi8(0x10);
  __m256 acc = _mm256_setzero_ps();
  __m128 acc_min = _mm_setzero_ps();
  for (std::int64_t i = 0; i < nb; ++i) {
    __m128i sc, m;
    k_scales_mins(x[i].scales, sc, m);
    const float dy = y[i].d;
    acc_min = _mm_fmadd_ps(_mm_set1_ps(dy * f16(x[i].dmin)), _mm_cvtepi32_ps(k_min_products(m, y[i].bsums)), acc_min);
    const __m256i scales = _mm256_broadcastsi128_si256(sc);
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].qh));
    __m256i sumi = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      // Bits 2c and 2c+1 of qh, moved to bit 4: shift right by 2c - 4 (or left by 4 - 2c).
      const __m256i hc = c < 2 ? _mm256_slli_epi16(qh, 4 - 2 * c) : _mm256_srli_epi16(qh, 2 * c - 4);
      const __m256i h1 = _mm256_and_si256(hc, bit4);
      const __m256i h2 = _mm256_and_si256(c < 2 ? _mm256_slli_epi16(qh, 3 - 2 * c) : _mm256_srli_epi16(qh, 2 * c - 3), bit4);
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].qs + 32 * c));
      const __m256i q1 = _mm256_or_si256(_mm256_and_si256(q, low4), h1);
      const __m256i q2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), low4), h2);
      const __m256i y1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].qs + 64 * c));
      const __m256i y2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].qs + 64 * c + 32));
      const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(q1, y1), _mm256_shuffle_epi8(scales, word_selector(2 * c)));
      const __m256i p2 = _mm256_madd_epi16(_mm256_maddubs_epi16(q2, y2), _mm256_shuffle_epi8(scales, word_selector(2 * c + 1)));
      sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p1, p2));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(dy * f16(x[i].d)), _mm256_cvtepi32_ps(sumi), acc);
  }
  __m128 m4 = _mm_add_ps(acc_min, _mm_movehl_ps(acc_min, acc_min));
  m4 = _mm_add_ss(m4, _mm_movehdup_ps(m4));
  return hsum(acc) - _mm_cvtss_f32(m4);
}

float dot_q6_k(const void* w, const void* a, std::int64_t n) {
  const auto* x = static_cast<const BlockQ6_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  const std::int64_t nb = n / kQK_K;
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i two = _mm256_set1_epi8(3);
  const __m256i offset = _mm256_set1_epi8(32);
  __m256 acc = _mm256_setzero_ps();
  for (std::int64_t i = 0; i < nb; ++i) {
    // The 16 sub-block scales as int16: words 0-7 (half 0) in the low lane, 8-15 in the high.
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x[i].scales)));
    __m256i sumi = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      // Both lanes = this half's 8 scales; quarter k then uses word 2k (elements l < 16, low lane)
      // and word 2k+1 (l >= 16, high lane).
      const __m256i sch = h == 0 ? _mm256_permute2x128_si256(sc16, sc16, 0x00) : _mm256_permute2x128_si256(sc16, sc16, 0x11);
      const std::uint8_t* ql = x[i].ql + 64 * h;
      const __m256i qa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
      const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].qh + 32 * h));
      const __m256i q[4] = {
          _mm256_or_si256(_mm256_and_si256(qa, low4), _mm256_slli_epi16(_mm256_and_si256(qh, two), 4)),
          _mm256_or_si256(_mm256_and_si256(qb, low4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), two), 4)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qa, 4), low4), _mm256_and_si256(qh, _mm256_set1_epi8(0x30))),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qb, 4), low4),
                          _mm256_and_si256(_mm256_srli_epi16(qh, 2), _mm256_set1_epi8(0x30))),
      };
      for (int k = 0; k < 4; ++k) {
        const __m256i yk = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].qs + 128 * h + 32 * k));
        // (q - 32) * y = q * y - 32 * y, both within int16 after the pairwise add.
        const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q[k], yk), _mm256_maddubs_epi16(offset, yk));
        const __m256i select = _mm256_set_m128i(_mm_set1_epi16(static_cast<short>(0x0100 + 0x0202 * (2 * k + 1))),
                                                _mm_set1_epi16(static_cast<short>(0x0100 + 0x0202 * (2 * k))));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, _mm256_shuffle_epi8(sch, select)));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(y[i].d * f16(x[i].d)), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum(acc);
}

}  // namespace

Avx2Kernels avx2_kernels() {
  Avx2Kernels k;
  k.f32 = dot_f32;
  k.f16 = dot_f16;
  k.bf16 = dot_bf16;
  k.q4_0 = dot_q4_0;
  k.q4_1 = dot_q4_1;
  k.q5_0 = dot_q5_0;
  k.q5_1 = dot_q5_1;
  k.q8_0 = dot_q8_0;
  k.q4_k = dot_q4_k;
  k.q5_k = dot_q5_k;
  k.q6_k = dot_q6_k;
  return k;
}

}  // namespace rapide::inference::quant::kernels
