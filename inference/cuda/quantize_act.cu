// quantize_a8: float activations -> int8 blocks of 32 with (scale, sum); convert_f16: float ->
// half. See quantize_act.cuh for the layouts.
//
// Work split (quantize_a8): one warp per block of 32 values, one lane per value: the absmax and
// the sum of quants are warp shuffles, each lane rounds its own value with quant::a8_quant (the
// CPU-tested rounding of quant/dp4a.h) and lane 0 writes (da, sum). 8 warps per CUDA block; a
// grid-stride loop covers n_tokens * n_cols / 32 blocks. Reads and writes are coalesced (a warp
// touches 128 contiguous bytes of x and 32 of q).
#include "quantize_act.cuh"

#include "cuda_util.cuh"
#include "rapide/inference/quant/dp4a.h"

namespace rapide::inference::cuda {

namespace {

constexpr int kQuantWarps = 8;

__global__ void quantize_a8_kernel(const float* __restrict__ x, std::int64_t n_blocks, std::int8_t* __restrict__ q,
                                   float2* __restrict__ ds) {
  const int lane = static_cast<int>(threadIdx.x % 32);
  const std::int64_t first = static_cast<std::int64_t>(blockIdx.x) * kQuantWarps + threadIdx.x / 32;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * kQuantWarps;
  for (std::int64_t b = first; b < n_blocks; b += stride) {
    // Block b covers x[32b, 32b + 32): row t = b / (n_cols / 32) is contiguous with the next, so
    // the flat index is the same as [t][c] with n_cols a multiple of 32.
    const float v = x[32 * b + lane];
    float amax = fabsf(v);
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
    const float da = quant::a8_scale(amax);
    const int qi = quant::a8_quant(v, da);
    q[32 * b + lane] = static_cast<std::int8_t>(qi);
    int sum = qi;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    if (lane == 0) ds[b] = make_float2(da, static_cast<float>(sum));
  }
}

__global__ void convert_f16_kernel(const float* __restrict__ x, std::int64_t n, __half* __restrict__ out) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    out[i] = __float2half_rn(x[i]);
}

}  // namespace

std::string quantize_a8(const float* x, std::int64_t n_tokens, std::int64_t n_cols, std::int8_t* q, float2* ds,
                        cudaStream_t stream) {
  if (n_tokens <= 0) return {};
  if (n_cols <= 0 || n_cols % 32 != 0)
    return "quantize_a8: n_cols must be a positive multiple of 32, got " + std::to_string(n_cols);
  if (!x || !q || !ds) return "quantize_a8: null device pointer";
  const std::int64_t n_blocks = n_tokens * (n_cols / 32);
  quantize_a8_kernel<<<grid_for(n_blocks, kQuantWarps), kQuantWarps * 32, 0, stream>>>(x, n_blocks, q, ds);
  return launch_error("quantize_a8_kernel");
}

std::string convert_f16(const float* x, std::int64_t n, __half* out, cudaStream_t stream) {
  if (n <= 0) return {};
  if (!x || !out) return "convert_f16: null device pointer";
  convert_f16_kernel<<<grid_for(n, 256), 256, 0, stream>>>(x, n, out);
  return launch_error("convert_f16_kernel");
}

}  // namespace rapide::inference::cuda
