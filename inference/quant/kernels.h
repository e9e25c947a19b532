// Private to inference/quant: the row kernels behind quant.h's vec_dot, one set per instruction
// set. Each takes a weight row, an activation row (already in vec_dot_activation_type) and the
// element count n, a multiple of the block size (any n >= 0 for the float types).
//
// kernels_avx2.cpp is the only file compiled with -mavx2 -mfma -mf16c; nothing in it may run
// before quant.cpp has checked the CPU (cpu_has_avx2()).
#pragma once

#include <cstdint>

namespace rapide::inference::quant::kernels {

using RowDot = float (*)(const void* weight_row, const void* act_row, std::int64_t n);

// True when the CPU has AVX2, FMA and F16C (probed once).
bool cpu_has_avx2();

// AVX2+FMA+F16C kernels; nullptr for types without one (the caller falls back to scalar).
struct Avx2Kernels {
  RowDot f32 = nullptr;
  RowDot f16 = nullptr;
  RowDot bf16 = nullptr;
  RowDot q4_0 = nullptr;
  RowDot q4_1 = nullptr;
  RowDot q5_0 = nullptr;
  RowDot q5_1 = nullptr;
  RowDot q8_0 = nullptr;
  RowDot q4_k = nullptr;
  RowDot q5_k = nullptr;
  RowDot q6_k = nullptr;
};
Avx2Kernels avx2_kernels();

}  // namespace rapide::inference::quant::kernels
