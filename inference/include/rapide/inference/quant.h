// Quantized tensor formats, row by row: dequantize, quantize and the quantized dot product that
// the CPU backend's matrix products are built on.
//
// Formats are llama.cpp's (ggml), byte for byte: the block layouts live in quant/blocks.h, the
// per-block maths in quant/{dequantize,quantize,dot}.h as RAPIDE_HD inline functions shared with
// the CUDA backend. This header is the host-side API over whole rows.
//
// Dot products ("vec_dot"): a weight row of type W is multiplied with an activation row that was
// converted to vec_dot_activation_type(W) by quantize_row():
//   F32, F16, BF16 weights      -> F32 activations (plain floats)
//   Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 -> Q8_0 activations (blocks of 32)
//   Q4_K, Q5_K, Q6_K            -> Q8_K activations (blocks of 256)
// The quantized products accumulate in integers inside each block and in float across blocks.
// Kernels: a portable scalar reference, and AVX2+FMA+F16C versions picked at run time when the
// CPU has them (see QuantIsa). Every kernel is tested against the scalar reference.
//
// Thread-safety: every function is pure (no shared state beyond a CPU-feature probe done once);
// call from any number of threads.
#pragma once

#include "rapide/inference/result.h"
#include "rapide/inference/tensor_type.h"

#include <cstddef>
#include <cstdint>

namespace rapide::inference {

// True when dequantize_row and quantize_row handle `type`: F32, F16, BF16, Q4_0, Q4_1, Q5_0,
// Q5_1, Q8_0, Q8_1, Q4_K, Q5_K, Q6_K, Q8_K.
bool quant_supported(TensorType type);

// dst[0..n) = the n values encoded in `src` (tensor_row_bytes(type, n) bytes).
// Errors (nothing written): unsupported type (named), n < 0 or not a multiple of the block size.
Status dequantize_row(TensorType type, const void* src, float* dst, std::int64_t n);

// Encodes src[0..n) into `dst` (tensor_row_bytes(type, n) bytes). K-quants search a scale and
// min per sub-block that minimise a weighted squared error (llama.cpp's reference method, see
// quant/quantize.h). This is also how activations are converted for vec_dot (Q8_0 / Q8_K): an
// O(n) pass per token, small next to the O(n * rows) products. Errors as dequantize_row, plus a
// NaN or infinite input for the block formats (named with its index); F32/F16/BF16 keep them.
Status quantize_row(TensorType type, const float* src, void* dst, std::int64_t n);

// Which instruction set a kernel uses. Scalar is always available.
enum class QuantIsa { Scalar, Avx2 };
bool quant_isa_available(QuantIsa isa);  // Avx2: the CPU has AVX2, FMA and F16C
QuantIsa quant_best_isa();               // what vec_dot and quantize_row use
const char* quant_isa_name(QuantIsa isa);  // "scalar", "avx2"

// True when vec_dot handles weights of this type: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
// Q4_K, Q5_K, Q6_K.
bool vec_dot_supported(TensorType weight_type);

// The format activations must be converted to (with quantize_row) before vec_dot with weights of
// `weight_type`; F32 for types that vec_dot does not support.
TensorType vec_dot_activation_type(TensorType weight_type);

// sum_i w[i] * a[i] over n elements: `weight_row` in weight_type, `act_row` in
// vec_dot_activation_type(weight_type). Hot path, so no Status: the caller checks once (at model
// load) that vec_dot_supported(weight_type) and that n is a multiple of the block size. Breaking
// those preconditions is a bug: it asserts in debug builds and returns NaN otherwise.
float vec_dot(TensorType weight_type, const void* weight_row, const void* act_row, std::int64_t n);
// The same with a chosen kernel set (tests and benchmarks); `isa` must be available.
float vec_dot(TensorType weight_type, const void* weight_row, const void* act_row, std::int64_t n,
              QuantIsa isa);

// A resolved kernel, to skip the per-call dispatch in inner loops. nullptr when unsupported.
using VecDotFn = float (*)(const void* weight_row, const void* act_row, std::int64_t n);
VecDotFn vec_dot_function(TensorType weight_type);
VecDotFn vec_dot_function(TensorType weight_type, QuantIsa isa);

// out[r] = vec_dot(weight_type, weights + r * row_stride_bytes, act_row, n) for r < n_rows:
// a matrix-vector product over rows of one tensor. Preconditions as vec_dot.
void vec_dot_rows(TensorType weight_type, const void* weights, std::size_t row_stride_bytes,
                  std::int64_t n_rows, const void* act_row, std::int64_t n, float* out);

}  // namespace rapide::inference
