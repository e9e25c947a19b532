// Weight rows -> FP16 (see dequantize_f16.cuh). One thread per output element in a grid-stride
// loop (256 threads per CUDA block): element i of the chunk is row row0 + i / n_cols, column
// i % n_cols, so a warp writes 64 contiguous bytes and reads the few blocks under them (the
// block's scales are re-read by its 32..256 threads from L1). The value is
// quant::dequantize_element (CPU-tested). Prefill is bound by the GEMM, not by this pass: it
// writes 2 bytes per weight once per chunk.
#include "dequantize_f16.cuh"

#include "cuda_util.cuh"
#include "weight_element.cuh"

namespace rapide::inference::cuda {

namespace {

template <TensorType T>
__global__ void dequantize_f16_kernel(const std::uint8_t* __restrict__ w, std::size_t row_bytes, std::int64_t n_cols,
                                      std::int64_t n, __half* __restrict__ out) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const std::int64_t r = i / n_cols, c = i - r * n_cols;
    out[i] = __float2half_rn(weight_element<T>(w + static_cast<std::size_t>(r) * row_bytes, c));
  }
}

}  // namespace

std::string dequantize_f16(const DeviceWeight& w, std::int64_t row0, std::int64_t n_rows_out, __half* out,
                           cudaStream_t stream) {
  if (n_rows_out <= 0) return {};
  if (row0 < 0 || row0 + n_rows_out > w.n_rows)
    return "dequantize_f16: rows [" + std::to_string(row0) + ", " + std::to_string(row0 + n_rows_out) +
           ") outside the matrix's " + std::to_string(w.n_rows);
  if (!w.data || !out) return "dequantize_f16: null device pointer";
  if (std::string why = matmul_supports(w.type, w.n_cols); !why.empty()) return "dequantize_f16: " + why;
  const std::uint8_t* base = w.data + static_cast<std::size_t>(row0) * w.row_bytes;
  const std::int64_t n = n_rows_out * w.n_cols;
  const unsigned grid = grid_for(n, 256);
  const bool known = dispatch_weight_type(w.type, [&](auto tag) {
    constexpr TensorType T = decltype(tag)::value;
    dequantize_f16_kernel<T><<<grid, 256, 0, stream>>>(base, w.row_bytes, w.n_cols, n, out);
  });
  if (!known) return "dequantize_f16: no kernel for " + std::string(tensor_type_traits(w.type).name);
  return launch_error("dequantize_f16_kernel");
}

}  // namespace rapide::inference::cuda
