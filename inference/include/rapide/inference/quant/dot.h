// Per-block quantized dot products, the scalar reference the SIMD and CUDA kernels are checked
// against. A weight block is multiplied with the activation block(s) covering the same elements:
// Q4_0/Q4_1/Q5_0/Q5_1/Q8_0 with one Q8_0 block, Q4_K/Q5_K/Q6_K with one Q8_K block.
//
// The products of quants are summed exactly in int32 (bounds below), then scaled once in float:
// the only rounding is in the final scaling, so every kernel that sums the same integers gets the
// same per-block value.
#pragma once

#include "rapide/inference/hd.h"
#include "rapide/inference/quant/blocks.h"
#include "rapide/inference/quant/dequantize.h"
#include "rapide/inference/quant/float16.h"

#include <cstdint>

namespace rapide::inference::quant {

// Sum of the 32 activation quants of a Q8_0 block (for the formats with a min).
RAPIDE_HD int q8_0_sum(const BlockQ8_0& a) {
  int s = 0;
  for (int j = 0; j < kQK8_0; ++j) s += a.qs[j];
  return s;
}

RAPIDE_HD float dot_block(const BlockQ4_0& w, const BlockQ8_0& a) {
  int sumi = 0;  // |sumi| <= 32 * 8 * 127
  for (int j = 0; j < kQK4_0 / 2; ++j) {
    sumi += ((w.qs[j] & 0xF) - 8) * a.qs[j];
    sumi += ((w.qs[j] >> 4) - 8) * a.qs[j + kQK4_0 / 2];
  }
  return static_cast<float>(sumi) * (f16_to_f32(w.d) * f16_to_f32(a.d));
}

RAPIDE_HD float dot_block(const BlockQ4_1& w, const BlockQ8_0& a) {
  int sumi = 0;
  for (int j = 0; j < kQK4_1 / 2; ++j) {
    sumi += (w.qs[j] & 0xF) * a.qs[j];
    sumi += (w.qs[j] >> 4) * a.qs[j + kQK4_1 / 2];
  }
  const float da = f16_to_f32(a.d);
  return static_cast<float>(sumi) * (f16_to_f32(w.d) * da) + static_cast<float>(q8_0_sum(a)) * (f16_to_f32(w.m) * da);
}

RAPIDE_HD float dot_block(const BlockQ5_0& w, const BlockQ8_0& a) {
  const std::uint32_t qh = q5_high_bits(w.qh);
  int sumi = 0;
  for (int j = 0; j < kQK5_0 / 2; ++j) {
    const int q0 = ((w.qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1u) << 4)) - 16;
    const int q1 = ((w.qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4)) - 16;
    sumi += q0 * a.qs[j] + q1 * a.qs[j + kQK5_0 / 2];
  }
  return static_cast<float>(sumi) * (f16_to_f32(w.d) * f16_to_f32(a.d));
}

RAPIDE_HD float dot_block(const BlockQ5_1& w, const BlockQ8_0& a) {
  const std::uint32_t qh = q5_high_bits(w.qh);
  int sumi = 0;
  for (int j = 0; j < kQK5_1 / 2; ++j) {
    const int q0 = (w.qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1u) << 4);
    const int q1 = (w.qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
    sumi += q0 * a.qs[j] + q1 * a.qs[j + kQK5_1 / 2];
  }
  const float da = f16_to_f32(a.d);
  return static_cast<float>(sumi) * (f16_to_f32(w.d) * da) + static_cast<float>(q8_0_sum(a)) * (f16_to_f32(w.m) * da);
}

RAPIDE_HD float dot_block(const BlockQ8_0& w, const BlockQ8_0& a) {
  int sumi = 0;
  for (int j = 0; j < kQK8_0; ++j) sumi += w.qs[j] * a.qs[j];
  return static_cast<float>(sumi) * (f16_to_f32(w.d) * f16_to_f32(a.d));
}

// Q4_K and Q5_K: sum_j d*sc_j * sum_l q*a  -  dmin*m_j * sum_l a, with the activation sums taken
// from the Q8_K bsums. |sumi| <= 8 * 63 * 32 * 31 * 127 < 2^31.
RAPIDE_HD float k_finish(float d, float dmin, float da, int sumi, int summ) {
  return da * (d * static_cast<float>(sumi) - dmin * static_cast<float>(summ));
}

RAPIDE_HD float dot_block(const BlockQ4_K& w, const BlockQ8_K& a) {
  int sumi = 0, summ = 0;
  for (int c = 0; c < 4; ++c) {
    std::uint8_t sc1, m1, sc2, m2;
    k_scale_min(2 * c, w.scales, sc1, m1);
    k_scale_min(2 * c + 1, w.scales, sc2, m2);
    const std::uint8_t* q = w.qs + 32 * c;
    const std::int8_t* a1 = a.qs + 64 * c;
    const std::int8_t* a2 = a1 + 32;
    int s1 = 0, s2 = 0;
    for (int l = 0; l < 32; ++l) {
      s1 += (q[l] & 0xF) * a1[l];
      s2 += (q[l] >> 4) * a2[l];
    }
    sumi += sc1 * s1 + sc2 * s2;
    summ += m1 * (a.bsums[4 * c] + a.bsums[4 * c + 1]) + m2 * (a.bsums[4 * c + 2] + a.bsums[4 * c + 3]);
  }
  return k_finish(f16_to_f32(w.d), f16_to_f32(w.dmin), a.d, sumi, summ);
}

RAPIDE_HD float dot_block(const BlockQ5_K& w, const BlockQ8_K& a) {
  int sumi = 0, summ = 0;
  for (int c = 0; c < 4; ++c) {
    std::uint8_t sc1, m1, sc2, m2;
    k_scale_min(2 * c, w.scales, sc1, m1);
    k_scale_min(2 * c + 1, w.scales, sc2, m2);
    const std::uint8_t* q = w.qs + 32 * c;
    const std::int8_t* a1 = a.qs + 64 * c;
    const std::int8_t* a2 = a1 + 32;
    int s1 = 0, s2 = 0;
    for (int l = 0; l < 32; ++l) {
      const int q1 = (q[l] & 0xF) | (((w.qh[l] >> (2 * c)) & 1) << 4);
      const int q2 = (q[l] >> 4) | (((w.qh[l] >> (2 * c + 1)) & 1) << 4);
      s1 += q1 * a1[l];
      s2 += q2 * a2[l];
    }
    sumi += sc1 * s1 + sc2 * s2;
    summ += m1 * (a.bsums[4 * c] + a.bsums[4 * c + 1]) + m2 * (a.bsums[4 * c + 2] + a.bsums[4 * c + 3]);
  }
  return k_finish(f16_to_f32(w.d), f16_to_f32(w.dmin), a.d, sumi, summ);
}

// Q6_K: d * sum_j scale_j * sum_l (q - 32) * a. |sumi| <= 16 * 128 * 16 * 32 * 127 < 2^31.
RAPIDE_HD float dot_block(const BlockQ6_K& w, const BlockQ8_K& a) {
  int sumi = 0;
  for (int h = 0; h < 2; ++h) {
    const std::int8_t* sc = w.scales + 8 * h;  // sub-block of element 128h + 32k + l: 8h + 2k + l/16
    const std::int8_t* y = a.qs + 128 * h;
    for (int half = 0; half < 2; ++half) {
      int s[4] = {0, 0, 0, 0};
      for (int l = 16 * half; l < 16 * half + 16; ++l) {
        int q[4];
        q6_k_quants(w, h, l, q);
        for (int k = 0; k < 4; ++k) s[k] += (q[k] - 32) * y[32 * k + l];
      }
      for (int k = 0; k < 4; ++k) sumi += sc[2 * k + half] * s[k];
    }
  }
  return a.d * (f16_to_f32(w.d) * static_cast<float>(sumi));
}

}  // namespace rapide::inference::quant
