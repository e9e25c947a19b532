// add: y[i] += x[i] over n floats (the residual stream update).
// Work split: one thread per element, grid-stride (64-bit indices).
#include "add.cuh"
#include "cuda_util.cuh"

namespace rapide::inference::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void add_kernel(AddParams p) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < p.n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    p.y[i] += p.x[i];
}

}  // namespace

std::string add(const AddParams& p, cudaStream_t stream) {
  if (p.n < 0) return "add: n must be >= 0";
  if (p.n == 0) return {};
  if (!p.y || !p.x) return "add: null device pointer";
  add_kernel<<<grid_for(p.n, kThreads), kThreads, 0, stream>>>(p);
  return launch_error("add kernel");
}

}  // namespace rapide::inference::cuda
