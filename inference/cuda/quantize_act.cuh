// Activation conversions for the matrix products (matmul.cuh):
//  - quantize_a8: x float [n_tokens, n_cols] -> q int8 [n_tokens, n_cols] and
//    ds float2 [n_tokens, n_cols / 32] = (scale da, sum of the 32 quants) per block of 32
//    (the "A8" format of quant/dp4a.h), for the dp4a GEMV kernels (gemv.cuh).
//  - convert_f16: x float [n] -> half [n], the cuBLAS input of the prefill path.
// Row t of q starts at t * n_cols; n_cols must be a multiple of 32 (so q rows are 32-byte
// aligned and the GEMV kernels read them with 16-byte loads). Asynchronous on `stream`.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

namespace rapide::inference::cuda {

std::string quantize_a8(const float* x, std::int64_t n_tokens, std::int64_t n_cols, std::int8_t* q, float2* ds,
                        cudaStream_t stream);

std::string convert_f16(const float* x, std::int64_t n, __half* out, cudaStream_t stream);

}  // namespace rapide::inference::cuda
