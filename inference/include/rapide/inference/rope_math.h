// RoPE angle maths shared by the CPU and CUDA backends (llama.cpp's rope with YaRN, as ggml
// defines it): dimension pair i0/2 of a token at position p rotates by
//   theta_extrap = p * freq_base^(-i0 / n_rot)
//   theta_interp = freq_scale * theta_extrap
// and, with YaRN (ext_factor != 0), mixes the two per dimension with a linear ramp between the
// "correction dims" and scales the magnitude by 1 + 0.1 ln(1 / freq_scale).
#pragma once

#include "rapide/inference/hd.h"

#include <cmath>

namespace rapide::inference {

// The dimension index at which a rotation of n_rotations full turns over n_ctx_orig positions
// happens (YaRN's correction dim).
RAPIDE_HD float rope_yarn_corr_dim(int n_rot, int n_ctx_orig, float n_rotations, float freq_base) {
  return static_cast<float>(n_rot) * logf(static_cast<float>(n_ctx_orig) / (n_rotations * 2.0f * 3.14159265358979f)) /
         (2.0f * logf(freq_base));
}

// dims[0..1]: the ramp's start and end dimension.
RAPIDE_HD void rope_yarn_corr_dims(int n_rot, int n_ctx_orig, float freq_base, float beta_fast, float beta_slow,
                                   float dims[2]) {
  const float start = floorf(rope_yarn_corr_dim(n_rot, n_ctx_orig, beta_fast, freq_base));
  const float end = ceilf(rope_yarn_corr_dim(n_rot, n_ctx_orig, beta_slow, freq_base));
  dims[0] = start > 0.0f ? start : 0.0f;
  dims[1] = end < static_cast<float>(n_rot - 1) ? end : static_cast<float>(n_rot - 1);
}

RAPIDE_HD float rope_yarn_ramp(float low, float high, int i0) {
  const float d = (high - low) > 0.001f ? (high - low) : 0.001f;
  const float y = (static_cast<float>(i0 / 2) - low) / d;
  const float c = y < 0.0f ? 0.0f : (y > 1.0f ? 1.0f : y);
  return 1.0f - c;
}

// cos and sin of the rotation of pair i0/2 (i0 even, < n_rot) at position pos.
RAPIDE_HD void rope_cos_sin(float pos, int i0, int n_rot, float freq_base, float freq_scale, float ext_factor,
                            float attn_factor, const float corr_dims[2], float* c, float* s) {
  const float theta_extrap = pos * powf(freq_base, -static_cast<float>(i0) / static_cast<float>(n_rot));
  const float theta_interp = freq_scale * theta_extrap;
  float theta = theta_interp;
  float mscale = attn_factor;
  if (ext_factor != 0.0f) {
    const float mix = rope_yarn_ramp(corr_dims[0], corr_dims[1], i0) * ext_factor;
    theta = theta_interp * (1.0f - mix) + theta_extrap * mix;
    mscale *= 1.0f + 0.1f * logf(1.0f / freq_scale);
  }
  *c = cosf(theta) * mscale;
  *s = sinf(theta) * mscale;
}

}  // namespace rapide::inference
