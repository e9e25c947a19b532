// Per-block quantization: encode kQK* floats into one block. RAPIDE_HD, no allocation, no
// exceptions; scratch lives in small local arrays. Inputs must be finite (quantize_row checks).
//
// The methods are llama.cpp's reference quantizers (the ones llama-quantize uses without an
// importance matrix), re-derived here with the same float operation order, so the bytes equal
// ggml's for the same input (tests/inference/quant_ggml_test.cpp checks this against ggml):
//  - Q4_0/Q5_0/Q8_0: one scale per 32 from the value of largest magnitude (Q4_0/Q5_0 map it to
//    -8/-16 so its sign gets the extra level).
//  - Q4_1/Q5_1: scale and min from the range.
//  - Q4_K/Q5_K: per 32-element sub-block, a scale and a min fitted by weighted least squares
//    over a sweep of candidate scales (fit_scale_min); the 8 scales and mins are then quantized
//    to 6 bits against two half-float super-scales, and the values re-quantized with the scales
//    actually stored.
//  - Q6_K: per 16-element sub-block, a symmetric scale fitted the same way (fit_symmetric_scale,
//    weights x^2), 8-bit sub-scales, then re-quantization.
//  - Q8_K (activations): one float scale per 256 plus the 16 partial sums the dot products need.
#pragma once

#include "rapide/inference/hd.h"
#include "rapide/inference/quant/blocks.h"
#include "rapide/inference/quant/dequantize.h"
#include "rapide/inference/quant/float16.h"

#include <cmath>
#include <cstdint>

namespace rapide::inference::quant {

// Speed note: plain comparisons instead of fminf/fmaxf/roundf throughout. Without SSE4.1 (the
// x86-64 baseline) g++ turns those into libm calls, which made the K-quant search ~10x slower.

// Round to nearest, ties to even, for |f| < 2^22 (inputs are clamped to that range). Adding
// 1.5 * 2^23 makes the float unit 1, so the FPU does the rounding.
RAPIDE_HD int nearest_int(float f) {
  f = f < -4194303.0f ? -4194303.0f : (f > 4194303.0f ? 4194303.0f : f);
  const float v = f + 12582912.0f;
  return static_cast<int>(f32_bits(v) & 0x007fffffu) - 0x00400000;
}

RAPIDE_HD int clamp_int(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

// Fits x[i] ~= scale * L[i] - min_out with L[i] in [0, nmax], minimising sum w[i] * err^2.
// Starts from the range (min clamped to <= 0), then tries nstep + 1 candidate scales
// (nmax + rmin + rdelta * k) / range, solving the 2x2 least-squares system for scale and min at
// each candidate's rounding. Returns the scale (>= 0 in practice), writes the min as a positive
// offset to subtract, and the levels to L. n <= 32.
RAPIDE_HD float fit_scale_min(int n, int nmax, const float* x, const float* w, std::uint8_t* L,
                              float* min_out, float rmin, float rdelta, int nstep) {
  float lo = x[0], hi = x[0];
  float sum_w = w[0], sum_x = w[0] * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (lo > 0) lo = 0;
  if (hi == lo) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *min_out = -lo;
    return 0.0f;
  }
  float iscale = static_cast<float>(nmax) / (hi - lo);
  float scale = 1.0f / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    L[i] = static_cast<std::uint8_t>(clamp_int(nearest_int(iscale * (x[i] - lo)), 0, nmax));
    const float diff = scale * L[i] + lo - x[i];
    best_error += w[i] * (diff * diff);
  }
  std::uint8_t trial[32];
  for (int k = 0; k <= nstep; ++k) {
    iscale = (rmin + rdelta * static_cast<float>(k) + static_cast<float>(nmax)) / (hi - lo);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = clamp_int(nearest_int(iscale * (x[i] - lo)), 0, nmax);
      trial[i] = static_cast<std::uint8_t>(l);
      const float wl = w[i] * static_cast<float>(l);
      sum_l += wl;
      sum_l2 += wl * static_cast<float>(l);
      sum_xl += wl * x[i];
    }
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (det > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float err = 0;
      for (int i = 0; i < n; ++i) {
        const float diff = this_scale * trial[i] + this_min - x[i];
        err += w[i] * (diff * diff);
      }
      if (err < best_error) {
        for (int i = 0; i < n; ++i) L[i] = trial[i];
        best_error = err;
        scale = this_scale;
        lo = this_min;
      }
    }
  }
  *min_out = -lo;
  return scale;
}

// Fits x[i] ~= scale * (L[i] - nmax) with L[i] - nmax in [-nmax, nmax - 1], weights x^2, trying
// 19 candidate scales around -nmax / (value of largest magnitude). Returns the (signed) scale.
RAPIDE_HD float fit_symmetric_scale(int n, int nmax, const float* x, std::int8_t* L) {
  float amax = 0, vmax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = fabsf(x[i]);
    if (ax > amax) {
      amax = ax;
      vmax = x[i];
    }
  }
  if (amax < 1e-15f) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  float iscale = -static_cast<float>(nmax) / vmax;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1);
    L[i] = static_cast<std::int8_t>(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  float scale = suml2 > 0 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int k = -9; k <= 9; ++k) {
    if (k == 0) continue;
    iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(k)) / vmax;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1);
      const float w = x[i] * x[i];
      sumlx += w * x[i] * static_cast<float>(l);
      suml2 += w * static_cast<float>(l) * static_cast<float>(l);
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i)
        L[i] = static_cast<std::int8_t>(clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1) + nmax);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Packs 6-bit scale `sc` and min `m` of sub-block j into the 12 K-quant scale bytes (which must
// start zeroed); the inverse of k_scale_min.
RAPIDE_HD void k_pack_scale_min(int j, std::uint8_t sc, std::uint8_t m, std::uint8_t* q) {
  if (j < 4) {
    q[j] = static_cast<std::uint8_t>(q[j] | sc);
    q[j + 4] = static_cast<std::uint8_t>(q[j + 4] | m);
  } else {
    q[j + 4] = static_cast<std::uint8_t>((sc & 0xF) | ((m & 0xF) << 4));
    q[j - 4] = static_cast<std::uint8_t>(q[j - 4] | ((sc >> 4) << 6));
    q[j] = static_cast<std::uint8_t>(q[j] | ((m >> 4) << 6));
  }
}

// Round half away from zero, like roundf, for |v| < 2^23 (v - trunc(v) is exact there).
RAPIDE_HD int round_away(float v) {
  int i = static_cast<int>(v);
  const float frac = v - static_cast<float>(i);
  if (frac >= 0.5f) ++i;
  if (frac <= -0.5f) --i;
  return i;
}

// Largest |x[j]|.
RAPIDE_HD float absmax(const float* x, int n) {
  float amax = 0;
  for (int j = 0; j < n; ++j) {
    const float ax = fabsf(x[j]);
    if (ax > amax) amax = ax;
  }
  return amax;
}

// Value of largest magnitude, with its sign.
RAPIDE_HD float signed_absmax(const float* x, int n) {
  float amax = 0, vmax = 0;
  for (int i = 0; i < n; ++i) {
    if (fabsf(x[i]) > amax) {
      amax = fabsf(x[i]);
      vmax = x[i];
    }
  }
  return vmax;
}

RAPIDE_HD void quantize_block(const float* x, BlockQ4_0& b) {
  const float d = signed_absmax(x, kQK4_0) / -8.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  b.d = f32_to_f16(d);
  for (int j = 0; j < kQK4_0 / 2; ++j) {
    const int q0 = clamp_int(static_cast<int>(x[j] * id + 8.5f), 0, 15);
    const int q1 = clamp_int(static_cast<int>(x[j + kQK4_0 / 2] * id + 8.5f), 0, 15);
    b.qs[j] = static_cast<std::uint8_t>(q0 | (q1 << 4));
  }
}

RAPIDE_HD void quantize_block(const float* x, BlockQ4_1& b) {
  float lo = x[0], hi = x[0];
  for (int j = 1; j < kQK4_1; ++j) {
    if (x[j] < lo) lo = x[j];
    if (x[j] > hi) hi = x[j];
  }
  const float d = (hi - lo) / 15.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  b.d = f32_to_f16(d);
  b.m = f32_to_f16(lo);
  for (int j = 0; j < kQK4_1 / 2; ++j) {
    const int q0 = clamp_int(static_cast<int>((x[j] - lo) * id + 0.5f), 0, 15);
    const int q1 = clamp_int(static_cast<int>((x[j + kQK4_1 / 2] - lo) * id + 0.5f), 0, 15);
    b.qs[j] = static_cast<std::uint8_t>(q0 | (q1 << 4));
  }
}

RAPIDE_HD void store_q5_high_bits(std::uint32_t qh, std::uint8_t* out) {
  for (int k = 0; k < 4; ++k) out[k] = static_cast<std::uint8_t>(qh >> (8 * k));
}

RAPIDE_HD void quantize_block(const float* x, BlockQ5_0& b) {
  const float d = signed_absmax(x, kQK5_0) / -16.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  b.d = f32_to_f16(d);
  std::uint32_t qh = 0;
  for (int j = 0; j < kQK5_0 / 2; ++j) {
    const int q0 = clamp_int(static_cast<int>(x[j] * id + 16.5f), 0, 31);
    const int q1 = clamp_int(static_cast<int>(x[j + kQK5_0 / 2] * id + 16.5f), 0, 31);
    b.qs[j] = static_cast<std::uint8_t>((q0 & 0xF) | ((q1 & 0xF) << 4));
    qh |= static_cast<std::uint32_t>(q0 >> 4) << j;
    qh |= static_cast<std::uint32_t>(q1 >> 4) << (j + 16);
  }
  store_q5_high_bits(qh, b.qh);
}

RAPIDE_HD void quantize_block(const float* x, BlockQ5_1& b) {
  float lo = x[0], hi = x[0];
  for (int j = 1; j < kQK5_1; ++j) {
    if (x[j] < lo) lo = x[j];
    if (x[j] > hi) hi = x[j];
  }
  const float d = (hi - lo) / 31.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  b.d = f32_to_f16(d);
  b.m = f32_to_f16(lo);
  std::uint32_t qh = 0;
  for (int j = 0; j < kQK5_1 / 2; ++j) {
    const int q0 = clamp_int(static_cast<int>((x[j] - lo) * id + 0.5f), 0, 31);
    const int q1 = clamp_int(static_cast<int>((x[j + kQK5_1 / 2] - lo) * id + 0.5f), 0, 31);
    b.qs[j] = static_cast<std::uint8_t>((q0 & 0xF) | ((q1 & 0xF) << 4));
    qh |= static_cast<std::uint32_t>(q0 >> 4) << j;
    qh |= static_cast<std::uint32_t>(q1 >> 4) << (j + 16);
  }
  store_q5_high_bits(qh, b.qh);
}

// Q8_0 rounds half away from zero (as roundf), as llama.cpp's reference does.
RAPIDE_HD void quantize_block(const float* x, BlockQ8_0& b) {
  const float amax = absmax(x, kQK8_0);
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  b.d = f32_to_f16(d);
  for (int j = 0; j < kQK8_0; ++j) b.qs[j] = static_cast<std::int8_t>(round_away(x[j] * id));
}

RAPIDE_HD void quantize_block(const float* x, BlockQ8_1& b) {
  const float amax = absmax(x, kQK8_1);
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  b.d = f32_to_f16(d);
  int sum = 0;
  for (int j = 0; j < kQK8_1; ++j) {
    b.qs[j] = static_cast<std::int8_t>(round_away(x[j] * id));
    sum += b.qs[j];
  }
  b.s = f32_to_f16(static_cast<float>(sum) * d);
}

// Shared by Q4_K (nmax 15) and Q5_K (nmax 31): fits the 8 sub-blocks, stores d/dmin/scales and
// leaves the final levels in L.
RAPIDE_HD void quantize_k_scales(const float* x, int nmax, float rmin, float rdelta, int nstep,
                                 std::uint16_t& d_out, std::uint16_t& dmin_out, std::uint8_t* scales_out,
                                 std::uint8_t* L) {
  float scales[kQK_K / 32];
  float mins[kQK_K / 32];
  float weights[32];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < kQK_K / 32; ++j) {
    const float* xs = x + 32 * j;
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
    const float av_x = sqrtf(sum_x2 / 32.0f);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + fabsf(xs[l]);
    scales[j] = fit_scale_min(32, nmax, xs, weights, L + 32 * j, &mins[j], rmin, rdelta, nstep);
    // Comparisons, not fmaxf: a -0 min (all-zero sub-block) must leave max_min at +0.
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
  for (int k = 0; k < kKScaleSize; ++k) scales_out[k] = 0;
  for (int j = 0; j < kQK_K / 32; ++j) {
    const int ls = clamp_int(nearest_int(inv_scale * scales[j]), 0, 63);
    const int lm = clamp_int(nearest_int(inv_min * mins[j]), 0, 63);
    k_pack_scale_min(j, static_cast<std::uint8_t>(ls), static_cast<std::uint8_t>(lm), scales_out);
  }
  d_out = f32_to_f16(max_scale / 63.0f);
  dmin_out = f32_to_f16(max_min / 63.0f);
  const float d = f16_to_f32(d_out), dmin = f16_to_f32(dmin_out);
  for (int j = 0; j < kQK_K / 32; ++j) {
    std::uint8_t sc, m;
    k_scale_min(j, scales_out, sc, m);
    const float dj = d * sc;
    if (dj == 0.0f) continue;
    const float mj = dmin * m;
    for (int l = 0; l < 32; ++l)
      L[32 * j + l] = static_cast<std::uint8_t>(clamp_int(nearest_int((x[32 * j + l] + mj) / dj), 0, nmax));
  }
}

RAPIDE_HD void quantize_block(const float* x, BlockQ4_K& b) {
  std::uint8_t L[kQK_K];
  quantize_k_scales(x, 15, -1.0f, 0.1f, 20, b.d, b.dmin, b.scales, L);
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l)
      b.qs[32 * c + l] = static_cast<std::uint8_t>(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
}

RAPIDE_HD void quantize_block(const float* x, BlockQ5_K& b) {
  std::uint8_t L[kQK_K];
  quantize_k_scales(x, 31, -0.5f, 0.1f, 15, b.d, b.dmin, b.scales, L);
  for (int l = 0; l < kQK_K / 8; ++l) b.qh[l] = 0;
  for (int c = 0; c < 4; ++c) {
    for (int l = 0; l < 32; ++l) {
      const int l1 = L[64 * c + l], l2 = L[64 * c + 32 + l];
      b.qs[32 * c + l] = static_cast<std::uint8_t>((l1 & 0xF) | ((l2 & 0xF) << 4));
      b.qh[l] = static_cast<std::uint8_t>(b.qh[l] | ((l1 >> 4) << (2 * c)) | ((l2 >> 4) << (2 * c + 1)));
    }
  }
}

RAPIDE_HD void quantize_block(const float* x, BlockQ6_K& b) {
  std::int8_t L[kQK_K];
  float scales[kQK_K / 16];
  float max_abs_scale = 0, max_scale = 0;
  for (int j = 0; j < kQK_K / 16; ++j) {
    scales[j] = fit_symmetric_scale(16, 32, x + 16 * j, L + 16 * j);
    if (fabsf(scales[j]) > max_abs_scale) {
      max_abs_scale = fabsf(scales[j]);
      max_scale = scales[j];
    }
  }
  if (max_abs_scale < 1e-15f) {
    for (int k = 0; k < kQK_K / 2; ++k) b.ql[k] = 0;
    for (int k = 0; k < kQK_K / 4; ++k) b.qh[k] = 0;
    for (int k = 0; k < kQK_K / 16; ++k) b.scales[k] = 0;
    b.d = f32_to_f16(0.0f);
    return;
  }
  const float iscale = -128.0f / max_scale;
  b.d = f32_to_f16(1.0f / iscale);
  for (int j = 0; j < kQK_K / 16; ++j)
    b.scales[j] = static_cast<std::int8_t>(clamp_int(nearest_int(iscale * scales[j]), -128, 127));
  const float d = f16_to_f32(b.d);
  for (int j = 0; j < kQK_K / 16; ++j) {
    const float dj = d * b.scales[j];
    if (dj == 0.0f) continue;
    for (int l = 0; l < 16; ++l)
      L[16 * j + l] = static_cast<std::int8_t>(clamp_int(nearest_int(x[16 * j + l] / dj), -32, 31) + 32);
  }
  for (int h = 0; h < 2; ++h) {
    const std::int8_t* Lh = L + 128 * h;
    for (int l = 0; l < 32; ++l) {
      const int q1 = Lh[l], q2 = Lh[l + 32], q3 = Lh[l + 64], q4 = Lh[l + 96];
      b.ql[64 * h + l] = static_cast<std::uint8_t>((q1 & 0xF) | ((q3 & 0xF) << 4));
      b.ql[64 * h + l + 32] = static_cast<std::uint8_t>((q2 & 0xF) | ((q4 & 0xF) << 4));
      b.qh[32 * h + l] = static_cast<std::uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
    }
  }
}

// Q8_K: scale from the value of largest magnitude mapped to -127 (so |q| <= 127), nearest
// rounding, plus sums of each 16 quants.
RAPIDE_HD void quantize_block(const float* x, BlockQ8_K& b) {
  const float vmax = signed_absmax(x, kQK_K);
  if (vmax == 0.0f) {
    b.d = 0;
    for (int j = 0; j < kQK_K; ++j) b.qs[j] = 0;
    for (int j = 0; j < kQK_K / 16; ++j) b.bsums[j] = 0;
    return;
  }
  const float iscale = -127.0f / vmax;
  for (int j = 0; j < kQK_K; ++j) b.qs[j] = static_cast<std::int8_t>(clamp_int(nearest_int(iscale * x[j]), -127, 127));
  for (int j = 0; j < kQK_K / 16; ++j) {
    int sum = 0;
    for (int l = 0; l < 16; ++l) sum += b.qs[16 * j + l];
    b.bsums[j] = static_cast<std::int16_t>(sum);
  }
  b.d = 1.0f / iscale;
}

}  // namespace rapide::inference::quant
