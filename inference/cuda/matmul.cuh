// Matrix products and embedding-row lookups over weights kept on the device in their GGUF
// (quantized) form. This header is the contract between the CUDA backend (cuda_backend.cu), which
// owns device memory and the stream, and the matmul kernels (matmul*.cu, get_rows.cu).
//
// y[t, r] = sum_c W[r, c] * x[t, c] for t < n_tokens, with x: [n_tokens, n_cols] and
// y: [n_tokens, n_rows] row-major floats in device memory, W ggml-ordered (n_rows rows of n_cols
// elements, row r at data + r * row_bytes), exactly as Backend::matmul on the CPU.
//
// Strategy: n_tokens <= kMaxGemvTokens uses quantized GEMV kernels (activations quantized to int8
// per 32 values on the device, integer dot products on the weight blocks); larger batches
// dequantize W to FP16 in a scratch buffer and call cuBLAS (cublasGemmEx, FP32 accumulation).
//
// Threading: one MatmulRunner per backend, used by one thread; every call is asynchronous on the
// runner's stream (no host synchronisation), so it can be captured into a CUDA graph.
#pragma once

#include "rapide/inference/tensor_type.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace rapide::inference::cuda {

// A weight matrix (or n_mats stacked expert matrices) resident in device memory.
struct DeviceWeight {
  TensorType type = TensorType::F32;
  const std::uint8_t* data = nullptr;  // device pointer
  std::int64_t n_cols = 0;
  std::int64_t n_rows = 0;
  std::int64_t n_mats = 1;
  std::size_t row_bytes = 0;

  DeviceWeight matrix(std::int64_t m) const {
    DeviceWeight w = *this;
    w.data = data + static_cast<std::size_t>(m) * static_cast<std::size_t>(n_rows) * row_bytes;
    w.n_mats = 1;
    return w;
  }
};

inline constexpr std::int64_t kMaxGemvTokens = 16;

// Empty when the kernels can multiply this weight type with rows of n_cols elements, else the
// reason (named type, constraint violated). Checked once per tensor in prepare_weights().
std::string matmul_supports(TensorType type, std::int64_t n_cols);

class MatmulRunner {
 public:
  // Does not own the handle or the stream. Allocates nothing until the first call.
  MatmulRunner(cublasHandle_t cublas, cudaStream_t stream);
  ~MatmulRunner();
  MatmulRunner(const MatmulRunner&) = delete;
  MatmulRunner& operator=(const MatmulRunner&) = delete;

  // Grows the device scratch (quantized activations, FP16 dequantized weights) for products of
  // up to max_cols columns, max_rows rows and max_tokens tokens. Call before capturing a graph:
  // run() never allocates when the sizes fit. Returns empty on success, else the reason.
  std::string reserve(std::int64_t max_cols, std::int64_t max_rows, std::int64_t max_tokens);

  // y = W x (see top). x and y are device pointers. Returns empty on success (launch errors
  // included: cudaGetLastError after the launches), else the reason.
  std::string run(const DeviceWeight& w, const float* x, std::int64_t n_tokens, float* y);

 private:
  struct Impl;
  Impl* impl_;
};

// out[i, :] = row tokens[i] of the table as floats (any type matmul_supports accepts).
// tokens: device int32 [n_tokens], already range-checked. Asynchronous on `stream`.
std::string get_rows(const DeviceWeight& table, const std::int32_t* tokens, std::int64_t n_tokens, float* out,
                     cudaStream_t stream);

}  // namespace rapide::inference::cuda
