// scatter_add_rows: y[rows[i], :] += scales[i] * src[i, :] (MoE: an expert's output rows added
// back into the residual stream with their gate weights). rows must be distinct within one call
// (each (token, expert) pair is routed once), so no two threads update the same element and no
// atomics are needed; the CPU backend adds in the same order per element (one term per call).
// Work split: grid.y = source row i (grid-stride past 65535), grid.x blocks stride over columns.
#include "cuda_util.cuh"
#include "scatter_add_rows.cuh"

namespace rapide::inference::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void scatter_add_rows_kernel(ScatterAddRowsParams p) {
  for (std::int64_t i = blockIdx.y; i < p.n_rows; i += gridDim.y) {
    float* dst = p.y + static_cast<std::int64_t>(p.rows[i]) * p.row_len;
    const float* s = p.src + i * p.row_len;
    const float scale = p.scales[i];
    for (std::int64_t c = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; c < p.row_len;
         c += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
      dst[c] = fmaf(scale, s[c], dst[c]);
  }
}

}  // namespace

std::string scatter_add_rows(const ScatterAddRowsParams& p, cudaStream_t stream) {
  if (p.n_rows < 0 || p.row_len < 0) return "scatter_add_rows: n_rows and row_len must be >= 0";
  if (p.n_rows == 0 || p.row_len == 0) return {};
  if (!p.y || !p.src || !p.rows || !p.scales) return "scatter_add_rows: null device pointer";
  const dim3 grid(grid_for(p.row_len, kThreads, 64), static_cast<unsigned>(p.n_rows < 65535 ? p.n_rows : 65535));
  scatter_add_rows_kernel<<<grid, kThreads, 0, stream>>>(p);
  return launch_error("scatter_add_rows kernel");
}

}  // namespace rapide::inference::cuda
