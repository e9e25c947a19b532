// Per-block dequantization: y[0..block elements) = the values a block encodes. RAPIDE_HD so the
// CUDA kernels run the same arithmetic; no allocation, no exceptions. These functions are the
// executable definition of each layout in quant/blocks.h.
#pragma once

#include "rapide/inference/hd.h"
#include "rapide/inference/quant/blocks.h"
#include "rapide/inference/quant/float16.h"

#include <cstdint>

namespace rapide::inference::quant {

// 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K block, from its 12 packed bytes:
// bytes 0-3 hold scales 0-3 (low 6 bits) and the top 2 bits of scales 4-7; bytes 4-7 the same
// for mins; bytes 8-11 the low 4 bits of scale (low nibble) and min (high nibble) of 4-7.
RAPIDE_HD void k_scale_min(int j, const std::uint8_t* q, std::uint8_t& sc, std::uint8_t& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = static_cast<std::uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    m = static_cast<std::uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Bit 4 of the 32 Q5_0/Q5_1 quants, as a little-endian uint32.
RAPIDE_HD std::uint32_t q5_high_bits(const std::uint8_t* qh) {
  return static_cast<std::uint32_t>(qh[0]) | (static_cast<std::uint32_t>(qh[1]) << 8) |
         (static_cast<std::uint32_t>(qh[2]) << 16) | (static_cast<std::uint32_t>(qh[3]) << 24);
}

RAPIDE_HD void dequantize_block(const BlockQ4_0& b, float* y) {
  const float d = f16_to_f32(b.d);
  for (int j = 0; j < kQK4_0 / 2; ++j) {
    y[j] = static_cast<float>((b.qs[j] & 0xF) - 8) * d;
    y[j + kQK4_0 / 2] = static_cast<float>((b.qs[j] >> 4) - 8) * d;
  }
}

RAPIDE_HD void dequantize_block(const BlockQ4_1& b, float* y) {
  const float d = f16_to_f32(b.d);
  const float m = f16_to_f32(b.m);
  for (int j = 0; j < kQK4_1 / 2; ++j) {
    y[j] = static_cast<float>(b.qs[j] & 0xF) * d + m;
    y[j + kQK4_1 / 2] = static_cast<float>(b.qs[j] >> 4) * d + m;
  }
}

RAPIDE_HD void dequantize_block(const BlockQ5_0& b, float* y) {
  const float d = f16_to_f32(b.d);
  const std::uint32_t qh = q5_high_bits(b.qh);
  for (int j = 0; j < kQK5_0 / 2; ++j) {
    const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
    const int h1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
    y[j] = static_cast<float>(((b.qs[j] & 0xF) | h0) - 16) * d;
    y[j + kQK5_0 / 2] = static_cast<float>(((b.qs[j] >> 4) | h1) - 16) * d;
  }
}

RAPIDE_HD void dequantize_block(const BlockQ5_1& b, float* y) {
  const float d = f16_to_f32(b.d);
  const float m = f16_to_f32(b.m);
  const std::uint32_t qh = q5_high_bits(b.qh);
  for (int j = 0; j < kQK5_1 / 2; ++j) {
    const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
    const int h1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
    y[j] = static_cast<float>((b.qs[j] & 0xF) | h0) * d + m;
    y[j + kQK5_1 / 2] = static_cast<float>((b.qs[j] >> 4) | h1) * d + m;
  }
}

RAPIDE_HD void dequantize_block(const BlockQ8_0& b, float* y) {
  const float d = f16_to_f32(b.d);
  for (int j = 0; j < kQK8_0; ++j) y[j] = static_cast<float>(b.qs[j]) * d;
}

RAPIDE_HD void dequantize_block(const BlockQ8_1& b, float* y) {
  const float d = f16_to_f32(b.d);
  for (int j = 0; j < kQK8_1; ++j) y[j] = static_cast<float>(b.qs[j]) * d;
}

RAPIDE_HD void dequantize_block(const BlockQ4_K& b, float* y) {
  const float d = f16_to_f32(b.d);
  const float dmin = f16_to_f32(b.dmin);
  const std::uint8_t* q = b.qs;
  for (int c = 0; c < 4; ++c) {  // 64-element chunks: sub-blocks 2c (low nibbles), 2c+1 (high)
    std::uint8_t sc, m;
    k_scale_min(2 * c, b.scales, sc, m);
    const float d1 = d * sc, m1 = dmin * m;
    k_scale_min(2 * c + 1, b.scales, sc, m);
    const float d2 = d * sc, m2 = dmin * m;
    for (int l = 0; l < 32; ++l) y[64 * c + l] = d1 * static_cast<float>(q[l] & 0xF) - m1;
    for (int l = 0; l < 32; ++l) y[64 * c + 32 + l] = d2 * static_cast<float>(q[l] >> 4) - m2;
    q += 32;
  }
}

RAPIDE_HD void dequantize_block(const BlockQ5_K& b, float* y) {
  const float d = f16_to_f32(b.d);
  const float dmin = f16_to_f32(b.dmin);
  const std::uint8_t* ql = b.qs;
  for (int c = 0; c < 4; ++c) {
    std::uint8_t sc, m;
    k_scale_min(2 * c, b.scales, sc, m);
    const float d1 = d * sc, m1 = dmin * m;
    k_scale_min(2 * c + 1, b.scales, sc, m);
    const float d2 = d * sc, m2 = dmin * m;
    const std::uint8_t u1 = static_cast<std::uint8_t>(1u << (2 * c));
    const std::uint8_t u2 = static_cast<std::uint8_t>(2u << (2 * c));
    for (int l = 0; l < 32; ++l)
      y[64 * c + l] = d1 * static_cast<float>((ql[l] & 0xF) + ((b.qh[l] & u1) ? 16 : 0)) - m1;
    for (int l = 0; l < 32; ++l)
      y[64 * c + 32 + l] = d2 * static_cast<float>((ql[l] >> 4) + ((b.qh[l] & u2) ? 16 : 0)) - m2;
    ql += 32;
  }
}

// The four 6-bit quants (0..63) stored at position l (0..31) of half h of a Q6_K block: those of
// elements 128h + l, + 32, + 64, + 96 (see BlockQ6_K).
RAPIDE_HD void q6_k_quants(const BlockQ6_K& b, int h, int l, int* q) {
  const std::uint8_t* ql = b.ql + 64 * h;
  const std::uint8_t hb = b.qh[32 * h + l];
  q[0] = (ql[l] & 0xF) | ((hb & 3) << 4);
  q[1] = (ql[l + 32] & 0xF) | (((hb >> 2) & 3) << 4);
  q[2] = (ql[l] >> 4) | (((hb >> 4) & 3) << 4);
  q[3] = (ql[l + 32] >> 4) | (((hb >> 6) & 3) << 4);
}

RAPIDE_HD void dequantize_block(const BlockQ6_K& b, float* y) {
  const float d = f16_to_f32(b.d);
  for (int h = 0; h < 2; ++h) {
    for (int l = 0; l < 32; ++l) {
      int q[4];
      q6_k_quants(b, h, l, q);
      for (int k = 0; k < 4; ++k) {
        const int i = 128 * h + 32 * k + l;
        y[i] = d * static_cast<float>(b.scales[i / 16]) * static_cast<float>(q[k] - 32);
      }
    }
  }
}

RAPIDE_HD void dequantize_block(const BlockQ8_K& b, float* y) {
  for (int j = 0; j < kQK_K; ++j) y[j] = b.d * static_cast<float>(b.qs[j]);
}

}  // namespace rapide::inference::quant
