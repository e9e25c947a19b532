// get_rows (matmul.cuh): out[i, c] = W[tokens[i], c] as float, the embedding lookup, for every
// type matmul_supports accepts. out is [n_tokens, n_cols] row-major in device memory.
//
// Work split: one thread per output element in a grid-stride loop (256 threads per CUDA block),
// element i -> token i / n_cols, column i % n_cols: a warp writes 128 contiguous bytes and reads
// the one or two blocks under them. The value is quant::dequantize_element (CPU-tested). Token
// ids were range-checked by the caller (see the contract); the kernel clamps them anyway so a bad
// id can never read outside the table.
#include "matmul.cuh"

#include "cuda_util.cuh"
#include "weight_element.cuh"

namespace rapide::inference::cuda {

namespace {

template <TensorType T>
__global__ void get_rows_kernel(const std::uint8_t* __restrict__ w, std::size_t row_bytes, std::int64_t n_rows,
                                std::int64_t n_cols, const std::int32_t* __restrict__ tokens, std::int64_t n,
                                float* __restrict__ out) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const std::int64_t t = i / n_cols, c = i - t * n_cols;
    std::int64_t r = tokens[t];
    r = r < 0 ? 0 : (r >= n_rows ? n_rows - 1 : r);
    out[i] = weight_element<T>(w + static_cast<std::size_t>(r) * row_bytes, c);
  }
}

}  // namespace

std::string get_rows(const DeviceWeight& table, const std::int32_t* tokens, std::int64_t n_tokens, float* out,
                     cudaStream_t stream) {
  if (n_tokens <= 0) return {};
  if (!table.data || !tokens || !out) return "get_rows: null device pointer";
  if (table.n_rows < 1) return "get_rows: empty table";
  if (std::string why = matmul_supports(table.type, table.n_cols); !why.empty()) return "get_rows: " + why;
  const auto rb = tensor_row_bytes(table.type, static_cast<std::uint64_t>(table.n_cols));
  if (!rb || *rb != table.row_bytes)
    return "get_rows: row_bytes " + std::to_string(table.row_bytes) + " does not match " +
           std::to_string(table.n_cols) + " elements of " + std::string(tensor_type_traits(table.type).name);
  const std::int64_t n = n_tokens * table.n_cols;
  const unsigned grid = grid_for(n, 256);
  const bool known = dispatch_weight_type(table.type, [&](auto tag) {
    constexpr TensorType T = decltype(tag)::value;
    get_rows_kernel<T><<<grid, 256, 0, stream>>>(table.data, table.row_bytes, table.n_rows, table.n_cols, tokens, n,
                                                 out);
  });
  if (!known) return "get_rows: no kernel for " + std::string(tensor_type_traits(table.type).name);
  return launch_error("get_rows_kernel");
}

}  // namespace rapide::inference::cuda
