// Dequantization of weight rows to FP16 for the cuBLAS prefill path (matmul.cu):
// out[(r - row0) * n_cols + c] = half(W[r, c]) for row0 <= r < row0 + n_rows_out, every type
// matmul_supports accepts. out is row-major [n_rows_out, n_cols] (cuBLAS reads it as the
// column-major transpose with ld = n_cols). Values beyond the FP16 range become +-Inf (only
// F32/BF16 weights can hold such values). Asynchronous on `stream`.
#pragma once

#include "matmul.cuh"

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

namespace rapide::inference::cuda {

std::string dequantize_f16(const DeviceWeight& w, std::int64_t row0, std::int64_t n_rows_out, __half* out,
                           cudaStream_t stream);

}  // namespace rapide::inference::cuda
