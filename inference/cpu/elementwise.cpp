#include "cpu/elementwise.h"

#include "cpu/kernels.h"
#include "cpu/simd_math.h"
#include "rapide/inference/softmax_math.h"

#include <cmath>
#include <cstring>

namespace rapide::inference::cpu {

namespace {

bool avx2() {
  static const bool ok = std::strcmp(kernel_isa(), "avx2") == 0;
  return ok;
}

void swiglu_scalar(const float* gate, const float* up, float* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = silu(gate[i]) * up[i];  // silu: softmax_math.h, as the CUDA kernel
}

#if defined(__x86_64__)
RAPIDE_TARGET_AVX2 void swiglu_avx2(const float* gate, const float* up, float* out, std::int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 e = exp_avx2(_mm256_xor_ps(g, sign));  // exp(-g), clamped to exp(88) for g < -88
    const __m256 silu = _mm256_div_ps(g, _mm256_add_ps(one, e));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
  }
  swiglu_scalar(gate + i, up + i, out + i, n - i);
}

#endif

}  // namespace

void swiglu_span(const float* gate, const float* up, float* out, std::int64_t n) {
#if defined(__x86_64__)
  if (avx2()) return swiglu_avx2(gate, up, out, n);
#endif
  swiglu_scalar(gate, up, out, n);
}

}  // namespace rapide::inference::cpu
