// gather_rows: out[i, :] = x[rows[i], :], F32 row-major, rows an int32 device array.
// Work split: grid.y = output row i (grid-stride when there are more than 65535 rows), grid.x
// blocks of 256 threads stride over the row's elements.
#include "cuda_util.cuh"
#include "gather_rows.cuh"

namespace rapide::inference::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void gather_rows_kernel(GatherRowsParams p) {
  for (std::int64_t i = blockIdx.y; i < p.n_rows; i += gridDim.y) {
    const float* src = p.x + static_cast<std::int64_t>(p.rows[i]) * p.row_len;
    float* dst = p.out + i * p.row_len;
    for (std::int64_t c = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; c < p.row_len;
         c += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
      dst[c] = src[c];
  }
}

}  // namespace

std::string gather_rows(const GatherRowsParams& p, cudaStream_t stream) {
  if (p.n_rows < 0 || p.row_len < 0) return "gather_rows: n_rows and row_len must be >= 0";
  if (p.n_rows == 0 || p.row_len == 0) return {};
  if (!p.x || !p.rows || !p.out) return "gather_rows: null device pointer";
  const dim3 grid(grid_for(p.row_len, kThreads, 64), static_cast<unsigned>(p.n_rows < 65535 ? p.n_rows : 65535));
  gather_rows_kernel<<<grid, kThreads, 0, stream>>>(p);
  return launch_error("gather_rows kernel");
}

}  // namespace rapide::inference::cuda
