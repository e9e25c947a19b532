// CPU kernel seam: the few inner loops the CPU backend's ops are built from. Each has a portable
// scalar version and an AVX2+FMA+F16C version chosen once at run time. The speed work (issue 12:
// quantized activations, repacked weights, GEMM tiles) replaces these functions without touching
// the ops or the forward pass.
//
// Weight rows are decoded with the per-block maths of rapide/inference/quant (shared with the
// CUDA backend); supported types: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K.
#pragma once

#include "rapide/inference/tensor_type.h"

#include <cstdint>

namespace rapide::inference::cpu {

// True when matmul/get_rows handle weights of this type.
bool weight_type_supported(TensorType type);

// dst[0..n) = the values of one weight row of `type` (n a multiple of the block size).
void dequantize_weight_row(TensorType type, const void* src, float* dst, std::int64_t n);

// sum a[i] * b[i]
float dot_f32(const float* a, const float* b, std::int64_t n);
// y[i] += s * x[i]
void axpy_f32(float s, const float* x, float* y, std::int64_t n);
// y[i] *= s
void scale_f32(float s, float* y, std::int64_t n);
// sum a[i] * float(b[i]) with b in IEEE half
float dot_f32_f16(const float* a, const std::uint16_t* b, std::int64_t n);
// y[i] += s * float(x[i])
void axpy_f16(float s, const std::uint16_t* x, float* y, std::int64_t n);
// dst[i] = half(src[i]) (round to nearest even)
void f32_to_f16_row(const float* src, std::uint16_t* dst, std::int64_t n);

// Which code path the functions above use: "avx2" or "scalar".
const char* kernel_isa();

}  // namespace rapide::inference::cpu
