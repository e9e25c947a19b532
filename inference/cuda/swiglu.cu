// swiglu: out[i] = silu(gate[i]) * up[i], silu from softmax_math.h (the CPU backend's scalar
// path uses the same function). Element-wise, so out may alias gate or up.
// Work split: one thread per element, grid-stride (64-bit indices).
#include "cuda_util.cuh"
#include "swiglu.cuh"

#include "rapide/inference/softmax_math.h"

namespace rapide::inference::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void swiglu_kernel(SwigluParams p) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < p.n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    p.out[i] = silu(p.gate[i]) * p.up[i];
}

}  // namespace

std::string swiglu(const SwigluParams& p, cudaStream_t stream) {
  if (p.n < 0) return "swiglu: n must be >= 0";
  if (p.n == 0) return {};
  if (!p.gate || !p.up || !p.out) return "swiglu: null device pointer";
  swiglu_kernel<<<grid_for(p.n, kThreads), kThreads, 0, stream>>>(p);
  return launch_error("swiglu kernel");
}

}  // namespace rapide::inference::cuda
