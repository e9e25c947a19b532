// Dequantization of one element i of a block (0 <= i < block elements): the value
// dequantize_block (quant/dequantize.h) writes at y[i], computed alone so a GPU thread can produce
// one output element (the CUDA dequantize-to-FP16 and get_rows kernels). RAPIDE_HD; covered by
// tests/inference/quant_dp4a_test.cpp against dequantize_block for every i.
#pragma once

#include "rapide/inference/hd.h"
#include "rapide/inference/quant/blocks.h"
#include "rapide/inference/quant/dequantize.h"
#include "rapide/inference/quant/float16.h"

#include <cstdint>

namespace rapide::inference::quant {

RAPIDE_HD int q4_nibble(const std::uint8_t* qs, int i) {  // Q4_0/Q4_1/Q5 low 4 bits of element i
  return (i < 16) ? (qs[i] & 0xF) : (qs[i - 16] >> 4);
}

RAPIDE_HD float dequantize_element(const BlockQ4_0& b, int i) {
  return static_cast<float>(q4_nibble(b.qs, i) - 8) * f16_to_f32(b.d);
}
RAPIDE_HD float dequantize_element(const BlockQ4_1& b, int i) {
  return static_cast<float>(q4_nibble(b.qs, i)) * f16_to_f32(b.d) + f16_to_f32(b.m);
}
RAPIDE_HD float dequantize_element(const BlockQ5_0& b, int i) {
  const int q = q4_nibble(b.qs, i) | static_cast<int>(((q5_high_bits(b.qh) >> i) & 1u) << 4);
  return static_cast<float>(q - 16) * f16_to_f32(b.d);
}
RAPIDE_HD float dequantize_element(const BlockQ5_1& b, int i) {
  const int q = q4_nibble(b.qs, i) | static_cast<int>(((q5_high_bits(b.qh) >> i) & 1u) << 4);
  return static_cast<float>(q) * f16_to_f32(b.d) + f16_to_f32(b.m);
}
RAPIDE_HD float dequantize_element(const BlockQ8_0& b, int i) { return static_cast<float>(b.qs[i]) * f16_to_f32(b.d); }

RAPIDE_HD float dequantize_element(const BlockQ4_K& b, int i) {
  const int c = i / 64, r = i % 64, l = r % 32;
  std::uint8_t sc, m;
  k_scale_min(2 * c + r / 32, b.scales, sc, m);
  const int q = (r < 32) ? (b.qs[32 * c + l] & 0xF) : (b.qs[32 * c + l] >> 4);
  return f16_to_f32(b.d) * static_cast<float>(sc) * static_cast<float>(q) - f16_to_f32(b.dmin) * static_cast<float>(m);
}
RAPIDE_HD float dequantize_element(const BlockQ5_K& b, int i) {
  const int c = i / 64, r = i % 64, l = r % 32, sub = 2 * c + r / 32;
  std::uint8_t sc, m;
  k_scale_min(sub, b.scales, sc, m);
  const int lo = (r < 32) ? (b.qs[32 * c + l] & 0xF) : (b.qs[32 * c + l] >> 4);
  const int q = lo + (((b.qh[l] >> sub) & 1) ? 16 : 0);
  return f16_to_f32(b.d) * static_cast<float>(sc) * static_cast<float>(q) - f16_to_f32(b.dmin) * static_cast<float>(m);
}
RAPIDE_HD float dequantize_element(const BlockQ6_K& b, int i) {
  const int h = i / 128, r = i % 128, k = r / 32, l = r % 32;
  int q[4];
  q6_k_quants(b, h, l, q);
  return f16_to_f32(b.d) * static_cast<float>(b.scales[i / 16]) * static_cast<float>(q[k] - 32);
}

}  // namespace rapide::inference::quant
