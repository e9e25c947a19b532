// Vectorised float maths shared by the CPU backend's AVX2 paths (attention's softmax, SwiGLU).
// Functions carry the AVX2+FMA+F16C target attribute, so they inline into callers that carry it
// too; callers check the CPU at run time (kernel_isa()) before taking these paths.
#pragma once

#if defined(__x86_64__)
#include <immintrin.h>

#define RAPIDE_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace rapide::inference::cpu {

// exp(x) for 8 floats, Cephes-style: x = n ln2 + r, exp(r) by a degree-6 polynomial on
// |r| <= ln2/2, times 2^n built in the exponent bits. Relative error ~2e-7 over [-87, 88];
// inputs above 88 give exp(88), below -87 give 0 (as a softmax or a sigmoid wants). NaN in, NaN
// out is not guaranteed.
RAPIDE_TARGET_AVX2 inline __m256 exp_avx2(__m256 x) {
  const __m256 underflow = _mm256_cmp_ps(x, _mm256_set1_ps(-87.0f), _CMP_LT_OQ);
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  // n is in [-126, 127] here, so 2^n is a normal float.
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(underflow, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

}  // namespace rapide::inference::cpu
#endif
