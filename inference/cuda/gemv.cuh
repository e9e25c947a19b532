// GEMV kernels for decode and speculative verification (1 <= n_tokens <= kMaxGemvTokens):
// y[t, r] = sum_c W[r, c] * x[t, c], y [n_tokens, n_rows] floats, W one matrix of `w`
// (w.n_mats == 1) in device memory in its GGUF form.
//  - gemv_a8: quantized W (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K) times activations
//    already quantized by quantize_a8 (q int8 [n_tokens, n_cols], ds float2 [n_tokens, n_cols/32]).
//  - gemv_float: F32/F16/BF16 W times float x [n_tokens, n_cols].
// Host-validated (types, shapes, pointers); asynchronous on `stream`.
#pragma once

#include "matmul.cuh"

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

namespace rapide::inference::cuda {

std::string gemv_a8(const DeviceWeight& w, const std::int8_t* q, const float2* ds, std::int64_t n_tokens, float* y,
                    cudaStream_t stream);

std::string gemv_float(const DeviceWeight& w, const float* x, std::int64_t n_tokens, float* y, cudaStream_t stream);

}  // namespace rapide::inference::cuda
