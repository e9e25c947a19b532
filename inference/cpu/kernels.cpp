#include "cpu/kernels.h"

#include "cpu/matmul.h"

#include "rapide/inference/quant/blocks.h"
#include "rapide/inference/quant/dequantize.h"
#include "rapide/inference/quant/float16.h"
#include "rapide/inference/quant.h"

#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#define RAPIDE_X86 1
#endif

namespace rapide::inference::cpu {

namespace q = rapide::inference::quant;

bool weight_type_supported(TensorType type) {
  // The float path's types, plus every type with an integer matmul (one list: matmul_int8_type).
  return type == TensorType::F32 || type == TensorType::F16 || type == TensorType::BF16 || matmul_int8_type(type);
}

namespace {

template <class Block, int kElems>
void dequant_blocks(const void* src, float* dst, std::int64_t n) {
  const Block* b = static_cast<const Block*>(src);
  for (std::int64_t i = 0; i < n / kElems; ++i) q::dequantize_block(b[i], dst + i * kElems);
}

float dot_scalar(const float* a, const float* b, std::int64_t n) {
  float s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}
void axpy_scalar(float s, const float* x, float* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] += s * x[i];
}
float dot_f16_scalar(const float* a, const std::uint16_t* b, std::int64_t n) {
  float s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += a[i] * q::f16_to_f32(b[i]);
  return s;
}
void axpy_f16_scalar(float s, const std::uint16_t* x, float* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] += s * q::f16_to_f32(x[i]);
}

#ifdef RAPIDE_X86
#define RAPIDE_AVX2 __attribute__((target("avx2,fma,f16c")))

RAPIDE_AVX2 float hsum256(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  __m128 sh = _mm_movehdup_ps(lo);
  lo = _mm_add_ps(lo, sh);
  sh = _mm_movehl_ps(sh, lo);
  lo = _mm_add_ss(lo, sh);
  return _mm_cvtss_f32(lo);
}

RAPIDE_AVX2 float dot_avx2(const float* a, const float* b, std::int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  std::int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  float s = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

RAPIDE_AVX2 void axpy_avx2(float s, const float* x, float* y, std::int64_t n) {
  const __m256 vs = _mm256_set1_ps(s);
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(vs, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += s * x[i];
}

RAPIDE_AVX2 float dot_f16_avx2(const float* a, const std::uint16_t* b, std::int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 b0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i)));
    const __m256 b1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i + 8)));
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), b0, s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), b1, s1);
  }
  for (; i + 8 <= n; i += 8) {
    const __m256 b0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i)));
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), b0, s0);
  }
  float s = hsum256(_mm256_add_ps(s0, s1));
  for (; i < n; ++i) s += a[i] * q::f16_to_f32(b[i]);
  return s;
}

RAPIDE_AVX2 void axpy_f16_avx2(float s, const std::uint16_t* x, float* y, std::int64_t n) {
  const __m256 vs = _mm256_set1_ps(s);
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 xv = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i)));
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(vs, xv, _mm256_loadu_ps(y + i)));
  }
  for (; i < n; ++i) y[i] += s * q::f16_to_f32(x[i]);
}

RAPIDE_AVX2 void f16_row_avx2(const std::uint16_t* src, float* dst, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  for (; i < n; ++i) dst[i] = q::f16_to_f32(src[i]);
}

// cpuid-based (cpu/matmul.cpp): clang's __builtin_cpu_supports does not know "f16c".
bool have_avx2() { return cpu_has_avx2_fma_f16c(); }
#else
bool have_avx2() { return false; }
#endif

}  // namespace

void dequantize_weight_row(TensorType type, const void* src, float* dst, std::int64_t n) {
  switch (type) {
    case TensorType::F32:
      std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(float));
      return;
    case TensorType::F16: {
      const auto* s = static_cast<const std::uint16_t*>(src);
#ifdef RAPIDE_X86
      if (have_avx2()) {
        f16_row_avx2(s, dst, n);
        return;
      }
#endif
      for (std::int64_t i = 0; i < n; ++i) dst[i] = q::f16_to_f32(s[i]);
      return;
    }
    case TensorType::BF16: {
      const auto* s = static_cast<const std::uint16_t*>(src);
      for (std::int64_t i = 0; i < n; ++i) dst[i] = q::bf16_to_f32(s[i]);
      return;
    }
    case TensorType::Q8_0: return dequant_blocks<q::BlockQ8_0, q::kQK8_0>(src, dst, n);
    case TensorType::Q4_0: return dequant_blocks<q::BlockQ4_0, q::kQK4_0>(src, dst, n);
    case TensorType::Q4_K: return dequant_blocks<q::BlockQ4_K, q::kQK_K>(src, dst, n);
    case TensorType::Q5_K: return dequant_blocks<q::BlockQ5_K, q::kQK_K>(src, dst, n);
    case TensorType::Q6_K: return dequant_blocks<q::BlockQ6_K, q::kQK_K>(src, dst, n);
    default:
      // Q4_1/Q5_0/Q5_1 (llama.cpp's fallbacks for rows that hold no whole K-quant block): the
      // quant library's row dequantizer. Model loading rejects types it cannot read.
      if (!dequantize_row(type, src, dst, n))
        for (std::int64_t i = 0; i < n; ++i) dst[i] = 0.0f;
      return;
  }
}

float dot_f32(const float* a, const float* b, std::int64_t n) {
#ifdef RAPIDE_X86
  if (have_avx2()) return dot_avx2(a, b, n);
#endif
  return dot_scalar(a, b, n);
}

void axpy_f32(float s, const float* x, float* y, std::int64_t n) {
#ifdef RAPIDE_X86
  if (have_avx2()) return axpy_avx2(s, x, y, n);
#endif
  axpy_scalar(s, x, y, n);
}

void scale_f32(float s, float* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] *= s;
}

float dot_f32_f16(const float* a, const std::uint16_t* b, std::int64_t n) {
#ifdef RAPIDE_X86
  if (have_avx2()) return dot_f16_avx2(a, b, n);
#endif
  return dot_f16_scalar(a, b, n);
}

void axpy_f16(float s, const std::uint16_t* x, float* y, std::int64_t n) {
#ifdef RAPIDE_X86
  if (have_avx2()) return axpy_f16_avx2(s, x, y, n);
#endif
  axpy_f16_scalar(s, x, y, n);
}

void f32_to_f16_row(const float* src, std::uint16_t* dst, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) dst[i] = q::f32_to_f16(src[i]);
}

const char* kernel_isa() { return have_avx2() ? "avx2" : "scalar"; }

}  // namespace rapide::inference::cpu
