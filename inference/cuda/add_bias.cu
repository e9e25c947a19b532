// add_bias: y[r, i] += bias[i] over a row-major [n_rows, row_len] F32 tensor.
// Work split: one thread per element, grid-stride over n_rows * row_len (64-bit indices).
#include "add_bias.cuh"
#include "cuda_util.cuh"

namespace rapide::inference::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void add_bias_kernel(AddBiasParams p) {
  const std::int64_t n = p.n_rows * p.row_len;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    p.y[i] += p.bias[i % p.row_len];
}

}  // namespace

std::string add_bias(const AddBiasParams& p, cudaStream_t stream) {
  if (p.n_rows < 0 || p.row_len < 0) return "add_bias: n_rows and row_len must be >= 0";
  if (p.n_rows == 0 || p.row_len == 0) return {};
  if (!p.y || !p.bias) return "add_bias: null device pointer";
  add_bias_kernel<<<grid_for(p.n_rows * p.row_len, kThreads), kThreads, 0, stream>>>(p);
  return launch_error("add_bias kernel");
}

}  // namespace rapide::inference::cuda
