// Rotary position embedding over the heads of a batch (see rope.cu).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

namespace rapide::inference::cuda {

struct RopeKernelParams {
  float* x = nullptr;                       // device [n_tokens, n_heads, head_dim], in place
  const std::int32_t* positions = nullptr;  // device [n_tokens]
  std::int64_t n_tokens = 0;
  std::int32_t n_heads = 0;
  std::int32_t head_dim = 0;
  std::int32_t n_rot = 0;  // even, <= head_dim; dims >= n_rot pass through
  bool neox = false;       // NEOX pairs (i, i + n_rot/2); else adjacent pairs (2i, 2i + 1)
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;
  float ext_factor = 0.0f;
  float attn_factor = 1.0f;
  float corr_dims[2] = {0.0f, 0.0f};  // rope_yarn_corr_dims() of the host, when ext_factor != 0
};

std::string rope(const RopeKernelParams& p, cudaStream_t stream);

}  // namespace rapide::inference::cuda
