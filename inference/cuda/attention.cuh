// Causal grouped-query attention over the F16 KV cache (see attention.cu).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace rapide::inference::cuda {

inline constexpr int kAttnMaxHeadDim = 256;      // head_dim and head_dim_v limit of the kernels
inline constexpr int kAttnMaxDecodeTokens = 16;  // batches up to this take the split-K path

struct AttentionKernelParams {
  const float* q = nullptr;              // device [n_tokens, n_head, head_dim]
  const std::uint16_t* k = nullptr;      // device F16 keys of one layer: [capacity, k_width], k_width = n_head_kv * head_dim
  const std::uint16_t* v = nullptr;      // device F16 values of one layer: [capacity, v_width]
  float* out = nullptr;                  // device [n_tokens, n_head, head_dim_v]
  std::int32_t pos0 = 0;                 // position of query token 0; keys 0..pos0+n_tokens-1 are stored
  std::int64_t n_tokens = 0;
  std::int32_t capacity = 0;             // positions the cache holds (bounds check only)
  std::int32_t n_head = 0;
  std::int32_t n_head_kv = 0;
  std::int32_t head_dim = 0;
  std::int32_t head_dim_v = 0;
  float scale = 1.0f;
  std::int32_t sliding_window = 0;       // 0: full causal; else keys in (pos - window, pos]
  float* scratch = nullptr;              // device, attention_scratch_floats() floats (split-K partials)
  std::size_t scratch_floats = 0;
};

// Floats of scratch the call needs (0 for the tiled prefill path). n_sm: the device's SM count.
std::size_t attention_scratch_floats(const AttentionKernelParams& p, int n_sm);

// Validates (every violated constraint named) and launches on `stream`.
std::string attention(const AttentionKernelParams& p, int n_sm, cudaStream_t stream);

}  // namespace rapide::inference::cuda
