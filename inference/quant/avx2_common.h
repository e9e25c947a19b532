// AVX2 helpers shared by the files compiled with -mavx2 -mfma -mf16c (quant/kernels_avx2.cpp and
// cpu/matmul_avx2.cpp); include it from nowhere else.
//
// ODR caution: every function here is `static inline`, so each AVX2 translation unit gets its own
// private copy. An ordinary inline function would be one entity across the program, and the
// linker could hand an AVX2-compiled copy to a scalar caller, which would then fault on CPUs
// without AVX2.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace rapide::inference::avx2 {

// One half float (raw bits) to float.
static inline float f16(std::uint16_t h) { return _cvtsh_ss(h); }

// Pairwise sums of signed int8 products, widened to 8 int32 lanes (each lane 4 products):
// maddubs wants unsigned x signed, so x's sign is moved onto y (|x| * sign(x)*y).
static inline __m256i dot_i8(__m256i x, __m256i y) {
  const __m256i ax = _mm256_sign_epi8(x, x);
  const __m256i sy = _mm256_sign_epi8(y, x);
  return _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sy), _mm256_set1_epi16(1));
}

// The 8 scales and 8 mins of a Q4_K/Q5_K block (the packing of k_scale_min() in
// quant/dequantize.h), as 16-bit lanes: scales in `sc` (words 0-7), mins in `m`. With w0..w2 the
// three little-endian words of the packed bytes:
//   scales 0-3 = w0 & 0x3f..,  scales 4-7 = (w2 & 0x0f..) | ((w0 >> 6) & 0x03..) << 4,
//   mins 0-3   = w1 & 0x3f..,  mins 4-7   = ((w2 >> 4) & 0x0f..) | ((w1 >> 6) & 0x03..) << 4.
static inline void k_scales_mins(const std::uint8_t* q, __m128i& sc, __m128i& m) {
  std::uint32_t w[3];
  __builtin_memcpy(w, q, 12);
  const std::uint32_t s_lo = w[0] & 0x3f3f3f3fu;
  const std::uint32_t s_hi = (w[2] & 0x0f0f0f0fu) | (((w[0] >> 6) & 0x03030303u) << 4);
  const std::uint32_t m_lo = w[1] & 0x3f3f3f3fu;
  const std::uint32_t m_hi = ((w[2] >> 4) & 0x0f0f0f0fu) | (((w[1] >> 6) & 0x03030303u) << 4);
  const __m128i packed = _mm_setr_epi32(static_cast<int>(s_lo), static_cast<int>(s_hi), static_cast<int>(m_lo),
                                        static_cast<int>(m_hi));
  sc = _mm_cvtepu8_epi16(packed);
  m = _mm_cvtepu8_epi16(_mm_srli_si128(packed, 8));
}

// A 16-bit lane pattern that, through shuffle_epi8, copies word k of each 128-bit half everywhere.
static inline __m256i word_selector(int k) { return _mm256_set1_epi16(static_cast<short>(0x0100 + 0x0202 * k)); }

}  // namespace rapide::inference::avx2
