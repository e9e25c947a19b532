// Word-level integer dot products of quantized weights with int8 activations, the arithmetic of
// the CUDA GEMV kernels (inference/cuda/gemv.cu) as RAPIDE_HD functions, so the CPU test suite
// (tests/inference/quant_dp4a_test.cpp) checks exactly what the GPU computes.
//
// Activations ("A8"): 32 consecutive values x quantized as q = round(x / da), da = absmax / 127,
// with their integer sum; packed four int8 per 32-bit word (little endian: element 4k + j is
// byte j of word k). Weights are read as 32-bit words of their GGUF block bytes (quant/blocks.h).
// Every sum of products is exact in int32 (bounds on each function); floats only scale the sums.
//
// dot4_i8 is __dp4a on the device (sm_61+) and the same sum of four byte products on the host.
#pragma once

#include "rapide/inference/hd.h"
#include "rapide/inference/quant/quantize.h"

#include <cstdint>

namespace rapide::inference::quant {

// acc + sum_j int8(a byte j) * int8(b byte j).
RAPIDE_HD int dot4_i8(int a, int b, int acc) {
#if defined(__CUDA_ARCH__)
  return __dp4a(a, b, acc);
#else
  for (int j = 0; j < 4; ++j)
    acc += static_cast<int>(static_cast<std::int8_t>((static_cast<std::uint32_t>(a) >> (8 * j)) & 0xffu)) *
           static_cast<int>(static_cast<std::int8_t>((static_cast<std::uint32_t>(b) >> (8 * j)) & 0xffu));
  return acc;
#endif
}

// Quantizes 32 floats to A8: q[j] in [-127, 127], returns da (0 for an all-zero block) and the sum
// of the quants in *sum. The device kernel computes the same absmax with a warp reduction and
// rounds each element with a8_quant.
RAPIDE_HD float a8_scale(float absmax) { return absmax / 127.0f; }
RAPIDE_HD int a8_quant(float x, float da) {
  return da == 0.0f ? 0 : clamp_int(nearest_int(x / da), -127, 127);
}
RAPIDE_HD float quantize_a8(const float* x, std::int8_t* q, int* sum) {
  float amax = 0.0f;
  for (int j = 0; j < 32; ++j) amax = amax > (x[j] < 0 ? -x[j] : x[j]) ? amax : (x[j] < 0 ? -x[j] : x[j]);
  const float da = a8_scale(amax);
  int s = 0;
  for (int j = 0; j < 32; ++j) {
    q[j] = static_cast<std::int8_t>(a8_quant(x[j], da));
    s += q[j];
  }
  *sum = s;
  return da;
}

// Bit 4 of each byte set from 4 consecutive bits of `bits` (bit j -> byte j).
RAPIDE_HD int spread4_bit4(std::uint32_t bits) {
  return static_cast<int>(((bits & 1u) << 4) | ((bits & 2u) << 11) | ((bits & 4u) << 18) | ((bits & 8u) << 25));
}

// ---- 32-element blocks: one thread per block -------------------------------------------------

// Q4_0/Q4_1 quants (0..15) times activations: qs = the block's 16 qs bytes as 4 words, a = the
// 32 activations as 8 words. |result| <= 32 * 15 * 127.
RAPIDE_HD int dot_q4_words(const std::uint32_t* qs, const int* a) {
  int s = 0;
  for (int k = 0; k < 4; ++k) {
    s = dot4_i8(static_cast<int>(qs[k] & 0x0F0F0F0Fu), a[k], s);         // elements 4k..4k+3
    s = dot4_i8(static_cast<int>((qs[k] >> 4) & 0x0F0F0F0Fu), a[k + 4], s);  // elements 16+4k..
  }
  return s;
}

// Q5_0/Q5_1 quants (0..31): as dot_q4_words with bit 4 of element j from bit j of qh.
RAPIDE_HD int dot_q5_words(const std::uint32_t* qs, std::uint32_t qh, const int* a) {
  int s = 0;
  for (int k = 0; k < 4; ++k) {
    s = dot4_i8(static_cast<int>(qs[k] & 0x0F0F0F0Fu) | spread4_bit4(qh >> (4 * k)), a[k], s);
    s = dot4_i8(static_cast<int>((qs[k] >> 4) & 0x0F0F0F0Fu) | spread4_bit4(qh >> (16 + 4 * k)), a[k + 4], s);
  }
  return s;
}

// Q8_0 quants times activations, 8 words each. |result| <= 32 * 127 * 127.
RAPIDE_HD int dot_q8_words(const int* w, const int* a) {
  int s = 0;
  for (int k = 0; k < 8; ++k) s = dot4_i8(w[k], a[k], s);
  return s;
}

// Block values, with sumi from the functions above, asum the activation quants' sum, d/m the
// weight block's scale/min as floats and da the activation scale.
RAPIDE_HD float finish_q4_0(float d, float da, int sumi, int asum) {
  return d * da * static_cast<float>(sumi - 8 * asum);
}
RAPIDE_HD float finish_q5_0(float d, float da, int sumi, int asum) {
  return d * da * static_cast<float>(sumi - 16 * asum);
}
RAPIDE_HD float finish_min(float d, float m, float da, int sumi, int asum) {  // Q4_1, Q5_1
  return da * (d * static_cast<float>(sumi) + m * static_cast<float>(asum));
}
RAPIDE_HD float finish_q8_0(float d, float da, int sumi) { return d * da * static_cast<float>(sumi); }

// ---- K-quants: eight threads per 256-element super-block -------------------------------------
//
// Q4_K/Q5_K: part p (0..7) covers qs bytes [32c + l0, +16) with c = p / 2, l0 = 16 * (p % 2):
// their low nibbles are elements 64c + l0 + [0, 16) (sub-block 2c), their high nibbles elements
// 64c + 32 + l0 + [0, 16) (sub-block 2c + 1). a_lo/a_hi: those 16 activations each as 4 words,
// in A8 blocks 2c and 2c + 1 of the super-block with scales da_lo/da_hi. qh (Q5_K): bytes
// qh[l0, +16) as 4 words. ks: k_part_scales(block scales, c).

struct KPart {
  int c, l0;
};
RAPIDE_HD KPart k_part(int p) { return KPart{p / 2, 16 * (p % 2)}; }

// The 6-bit scales and mins of the two sub-blocks (2c, 2c + 1) a part touches; computed once per
// part and reused for every token.
struct KScales {
  int sc_lo, m_lo, sc_hi, m_hi;
};
RAPIDE_HD KScales k_part_scales(const std::uint8_t* scales, int c) {
  std::uint8_t sc1, m1, sc2, m2;
  k_scale_min(2 * c, scales, sc1, m1);
  k_scale_min(2 * c + 1, scales, sc2, m2);
  return KScales{sc1, m1, sc2, m2};
}

RAPIDE_HD float finish_k_part(float d, float dmin, const KScales& ks, float da_lo, float da_hi, int s_lo, int sum_lo,
                              int s_hi, int sum_hi) {
  return da_lo * (d * static_cast<float>(ks.sc_lo * s_lo) - dmin * static_cast<float>(ks.m_lo * sum_lo)) +
         da_hi * (d * static_cast<float>(ks.sc_hi * s_hi) - dmin * static_cast<float>(ks.m_hi * sum_hi));
}

// Sum of the 16 int8 activations in 4 words.
RAPIDE_HD int sum_a8_words4(const int* a) {
  int s = 0;
  for (int k = 0; k < 4; ++k) s = dot4_i8(0x01010101, a[k], s);
  return s;
}

RAPIDE_HD float dot_q4_k_part(float d, float dmin, const KScales& ks, const std::uint32_t* qs, const int* a_lo,
                              const int* a_hi, float da_lo, float da_hi) {
  int s_lo = 0, s_hi = 0;
  for (int k = 0; k < 4; ++k) {
    s_lo = dot4_i8(static_cast<int>(qs[k] & 0x0F0F0F0Fu), a_lo[k], s_lo);
    s_hi = dot4_i8(static_cast<int>((qs[k] >> 4) & 0x0F0F0F0Fu), a_hi[k], s_hi);
  }
  return finish_k_part(d, dmin, ks, da_lo, da_hi, s_lo, sum_a8_words4(a_lo), s_hi, sum_a8_words4(a_hi));
}

RAPIDE_HD float dot_q5_k_part(float d, float dmin, const KScales& ks, int p, const std::uint32_t* qs,
                              const std::uint32_t* qh, const int* a_lo, const int* a_hi, float da_lo, float da_hi) {
  const KPart kp = k_part(p);
  int s_lo = 0, s_hi = 0;
  for (int k = 0; k < 4; ++k) {
    const int h_lo = static_cast<int>(((qh[k] >> (2 * kp.c)) & 0x01010101u) << 4);
    const int h_hi = static_cast<int>(((qh[k] >> (2 * kp.c + 1)) & 0x01010101u) << 4);
    s_lo = dot4_i8(static_cast<int>(qs[k] & 0x0F0F0F0Fu) | h_lo, a_lo[k], s_lo);
    s_hi = dot4_i8(static_cast<int>((qs[k] >> 4) & 0x0F0F0F0Fu) | h_hi, a_hi[k], s_hi);
  }
  return finish_k_part(d, dmin, ks, da_lo, da_hi, s_lo, sum_a8_words4(a_lo), s_hi, sum_a8_words4(a_hi));
}

// Q6_K: part p (0..7) covers half h = p / 4 and positions l in [l0, l0 + 8), l0 = 8 * (p % 4):
// elements 128h + 32k + l for k = 0..3 (see BlockQ6_K). ql_a = ql bytes [64h + l0, +8) and
// ql_b = ql bytes [64h + 32 + l0, +8), qh = qh bytes [32h + l0, +8), two words each. a[2k..2k+1]:
// the 8 activations of element group k (A8 block 4h + k of the super-block, scale da[k]).
// Group k uses 16-element scale 8h + 2k + l0 / 16.
RAPIDE_HD float dot_q6_k_part(float d, const std::int8_t* scales, int p, const std::uint32_t* ql_a,
                              const std::uint32_t* ql_b, const std::uint32_t* qh, const int* a, const float* da) {
  const int h = p / 4, l0 = 8 * (p % 4);
  float acc = 0.0f;
  for (int k = 0; k < 4; ++k) {
    const std::uint32_t* ql = (k & 1) ? ql_b : ql_a;
    const int shift = (k & 2) ? 4 : 0;
    int s = 0, sa = 0;
    for (int w = 0; w < 2; ++w) {
      const int q = static_cast<int>(((ql[w] >> shift) & 0x0F0F0F0Fu) | (((qh[w] >> (2 * k)) & 0x03030303u) << 4));
      s = dot4_i8(q, a[2 * k + w], s);  // q in [0, 63]: positive as int8
      sa = dot4_i8(0x01010101, a[2 * k + w], sa);
    }
    const int sc = scales[8 * h + 2 * k + l0 / 16];
    acc += da[k] * static_cast<float>(sc * (s - 32 * sa));
  }
  return d * acc;
}

}  // namespace rapide::inference::quant
