// MatmulRunner and matmul_supports (matmul.cuh): the one dispatch point of the matrix products.
//  - n_tokens <= kMaxGemvTokens (decode, speculative verification): float weights go to
//    gemv_float; quantized weights quantize x to A8 (quantize_act.cu) and run the dp4a GEMV
//    (gemv.cu), each weight byte read once for all tokens.
//  - larger batches (prefill): x -> FP16 once, then W is dequantized to FP16 in row chunks of at
//    most kChunkElems elements (dequantize_f16.cu) and each chunk multiplied with cublasGemmEx
//    (FP16 inputs, FP32 compute and output). Column-major view for cuBLAS: W chunk is
//    [n_cols, rows] with ld n_cols (transposed, OP_T), x is [n_cols, n_tokens] with ld n_cols,
//    y + row0 is [rows, n_tokens] with ld n_rows, exactly the row-major y[t, r].
// Scratch (A8 activations, FP16 x, FP16 weight chunk) grows in reserve() or on the first call
// that needs more, never shrinks, so once sized run() allocates nothing (graph capture safe).
#include "matmul.cuh"

#include "cuda_util.cuh"
#include "dequantize_f16.cuh"
#include "gemv.cuh"
#include "quantize_act.cuh"

#include <cuda_fp16.h>

#include <algorithm>
#include <climits>

namespace rapide::inference::cuda {

namespace {

// FP16 weight chunk of the prefill path: 16 Mi elements (32 MiB), whole rows.
constexpr std::int64_t kChunkElems = std::int64_t{1} << 24;

const char* cublas_status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "cuBLAS error";
  }
}

bool is_float_type(TensorType t) { return t == TensorType::F32 || t == TensorType::F16 || t == TensorType::BF16; }

// Grows *p to at least n elements (contents are not kept).
template <class T>
std::string grow(DevicePtr<T>* p, std::size_t* cap, std::size_t n, const char* what) {
  if (*p && *cap >= n) return {};
  p->reset();
  *cap = 0;
  if (std::string e = device_alloc(n, p, what); !e.empty()) return e;
  *cap = n;
  return {};
}

std::int64_t chunk_rows(std::int64_t n_rows, std::int64_t n_cols) {
  return std::max<std::int64_t>(1, std::min<std::int64_t>(n_rows, kChunkElems / n_cols));
}

}  // namespace

std::string matmul_supports(TensorType type, std::int64_t n_cols) {
  const std::string name(tensor_type_traits(type).name);
  if (n_cols <= 0) return name + ": n_cols must be positive, got " + std::to_string(n_cols);
  if (n_cols > INT_MAX) return name + ": n_cols " + std::to_string(n_cols) + " exceeds cuBLAS's int range";
  int block = 0;
  switch (type) {
    case TensorType::F32:
    case TensorType::F16:
    case TensorType::BF16: block = 1; break;
    case TensorType::Q4_0:
    case TensorType::Q4_1:
    case TensorType::Q5_0:
    case TensorType::Q5_1:
    case TensorType::Q8_0: block = 32; break;
    case TensorType::Q4_K:
    case TensorType::Q5_K:
    case TensorType::Q6_K: block = 256; break;
    default:
      return "type " + name +
             " has no CUDA matmul kernels (supported: F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q4_K Q5_K Q6_K)";
  }
  if (n_cols % block != 0)
    return name + ": rows of " + std::to_string(n_cols) + " elements are not whole blocks of " + std::to_string(block);
  return {};
}

struct MatmulRunner::Impl {
  Impl(cublasHandle_t h, cudaStream_t s) : cublas(h), stream(s) {}
  cublasHandle_t cublas;
  cudaStream_t stream;
  DevicePtr<std::int8_t> a8_q;  // [tokens, cols]
  std::size_t a8_q_n = 0;
  DevicePtr<float2> a8_ds;      // [tokens, cols / 32]
  std::size_t a8_ds_n = 0;
  DevicePtr<__half> x_f16;      // [tokens, cols]
  std::size_t x_f16_n = 0;
  DevicePtr<__half> w_f16;      // [chunk rows, cols]
  std::size_t w_f16_n = 0;

  std::string grow_gemv(std::int64_t cols, std::int64_t tokens) {
    const auto n = static_cast<std::size_t>(cols) * static_cast<std::size_t>(tokens);
    if (std::string e = grow(&a8_q, &a8_q_n, n, "matmul A8 activations cudaMalloc"); !e.empty()) return e;
    return grow(&a8_ds, &a8_ds_n, n / 32 + 1, "matmul A8 scales cudaMalloc");
  }
  std::string grow_gemm(std::int64_t cols, std::int64_t rows, std::int64_t tokens) {
    const auto nx = static_cast<std::size_t>(cols) * static_cast<std::size_t>(tokens);
    if (std::string e = grow(&x_f16, &x_f16_n, nx, "matmul FP16 activations cudaMalloc"); !e.empty()) return e;
    const auto nw = static_cast<std::size_t>(chunk_rows(rows, cols)) * static_cast<std::size_t>(cols);
    return grow(&w_f16, &w_f16_n, nw, "matmul FP16 weight chunk cudaMalloc");
  }
};

MatmulRunner::MatmulRunner(cublasHandle_t cublas, cudaStream_t stream) : impl_(new Impl(cublas, stream)) {}
MatmulRunner::~MatmulRunner() { delete impl_; }

std::string MatmulRunner::reserve(std::int64_t max_cols, std::int64_t max_rows, std::int64_t max_tokens) {
  if (max_cols <= 0 || max_rows <= 0 || max_tokens <= 0) return {};
  const std::int64_t gemv_tokens = std::min(max_tokens, kMaxGemvTokens);
  if (std::string e = impl_->grow_gemv(max_cols, gemv_tokens); !e.empty()) return e;
  if (max_tokens > kMaxGemvTokens) return impl_->grow_gemm(max_cols, max_rows, max_tokens);
  return {};
}

std::string MatmulRunner::run(const DeviceWeight& w, const float* x, std::int64_t n_tokens, float* y) {
  if (n_tokens <= 0) return {};
  if (!x || !y) return "matmul: null activation or output pointer";
  if (w.n_mats != 1) return "matmul: one matrix expected (pass DeviceWeight::matrix(m)), got n_mats " + std::to_string(w.n_mats);
  if (std::string why = matmul_supports(w.type, w.n_cols); !why.empty()) return "matmul: " + why;
  if (w.n_rows <= 0 || w.n_rows > INT_MAX) return "matmul: n_rows must be in [1, 2^31), got " + std::to_string(w.n_rows);
  Impl& m = *impl_;
  if (n_tokens <= kMaxGemvTokens) {
    if (is_float_type(w.type)) return gemv_float(w, x, n_tokens, y, m.stream);
    if (std::string e = m.grow_gemv(w.n_cols, n_tokens); !e.empty()) return e;
    if (std::string e = quantize_a8(x, n_tokens, w.n_cols, m.a8_q.get(), m.a8_ds.get(), m.stream); !e.empty()) return e;
    return gemv_a8(w, m.a8_q.get(), m.a8_ds.get(), n_tokens, y, m.stream);
  }
  if (n_tokens > INT_MAX) return "matmul: n_tokens exceeds cuBLAS's int range";
  if (std::string e = m.grow_gemm(w.n_cols, w.n_rows, n_tokens); !e.empty()) return e;
  if (std::string e = convert_f16(x, n_tokens * w.n_cols, m.x_f16.get(), m.stream); !e.empty()) return e;
  if (cublasStatus_t s = cublasSetStream(m.cublas, m.stream); s != CUBLAS_STATUS_SUCCESS)
    return std::string("matmul: cublasSetStream: ") + cublas_status_name(s);
  const std::int64_t step = chunk_rows(w.n_rows, w.n_cols);
  const float alpha = 1.0f, beta = 0.0f;
  for (std::int64_t r0 = 0; r0 < w.n_rows; r0 += step) {
    const std::int64_t rows = std::min(step, w.n_rows - r0);
    if (std::string e = dequantize_f16(w, r0, rows, m.w_f16.get(), m.stream); !e.empty()) return e;
    const cublasStatus_t s = cublasGemmEx(
        m.cublas, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(rows), static_cast<int>(n_tokens),
        static_cast<int>(w.n_cols), &alpha, m.w_f16.get(), CUDA_R_16F, static_cast<int>(w.n_cols), m.x_f16.get(),
        CUDA_R_16F, static_cast<int>(w.n_cols), &beta, y + r0, CUDA_R_32F, static_cast<int>(w.n_rows),
        CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    if (s != CUBLAS_STATUS_SUCCESS)
      return "matmul: cublasGemmEx [" + std::to_string(rows) + " x " + std::to_string(w.n_cols) + "] x [" +
             std::to_string(w.n_cols) + " x " + std::to_string(n_tokens) + "]: " + cublas_status_name(s);
  }
  return launch_error("matmul (prefill)");
}

}  // namespace rapide::inference::cuda
