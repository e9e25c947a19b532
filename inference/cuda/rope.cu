// rope: rotates pair i (i < n_rot/2) of every head of token t by the angle rope_cos_sin() of
// rope_math.h gives for positions[t] (the CPU backend's table is built from the same function):
//   NORMAL: (x[2i], x[2i+1]);  NEOX: (x[i], x[i + n_rot/2]).
//   x0' = x0 c - x1 s,  x1' = x0 s + x1 c.
// Layout: x [n_tokens, n_heads, head_dim] F32 row-major, in place.
// Work split: one thread per (token, head, pair), grid-stride with 64-bit indices; each thread
// touches only its own two elements.
#include "cuda_util.cuh"
#include "rope.cuh"

#include "rapide/inference/rope_math.h"

namespace rapide::inference::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void rope_kernel(RopeKernelParams p) {
  const std::int64_t half = p.n_rot / 2;
  const std::int64_t n = p.n_tokens * p.n_heads * half;
  for (std::int64_t idx = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; idx < n;
       idx += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t i = idx % half;
    const std::int64_t th = idx / half;  // token * n_heads + head
    const std::int64_t t = th / p.n_heads;
    float c, s;
    rope_cos_sin(static_cast<float>(p.positions[t]), static_cast<int>(2 * i), p.n_rot, p.freq_base, p.freq_scale,
                 p.ext_factor, p.attn_factor, p.corr_dims, &c, &s);
    float* xh = p.x + th * p.head_dim;
    const std::int64_t a = p.neox ? i : 2 * i;
    const std::int64_t b = p.neox ? i + half : 2 * i + 1;
    const float x0 = xh[a], x1 = xh[b];
    xh[a] = x0 * c - x1 * s;
    xh[b] = x0 * s + x1 * c;
  }
}

}  // namespace

std::string rope(const RopeKernelParams& p, cudaStream_t stream) {
  if (p.n_tokens < 0 || p.n_heads < 0) return "rope: n_tokens and n_heads must be >= 0";
  if (p.n_rot < 0 || p.n_rot % 2 != 0 || p.n_rot > p.head_dim)
    return "rope: n_rot must be even and in [0, head_dim], got n_rot " + std::to_string(p.n_rot) + ", head_dim " +
           std::to_string(p.head_dim);
  if (p.n_tokens == 0 || p.n_heads == 0 || p.n_rot == 0) return {};
  if (!p.x || !p.positions) return "rope: null device pointer";
  rope_kernel<<<grid_for(p.n_tokens * p.n_heads * (p.n_rot / 2), kThreads), kThreads, 0, stream>>>(p);
  return launch_error("rope kernel");
}

}  // namespace rapide::inference::cuda
