// Row-level quantization API (quant.h): argument checks, the scalar row kernels built from the
// per-block RAPIDE_HD functions, and the choice between scalar and AVX2 kernels.
#include "rapide/inference/quant.h"

#include "quant/kernels.h"
#include "rapide/inference/quant/blocks.h"
#include "rapide/inference/quant/dequantize.h"
#include "rapide/inference/quant/dot.h"
#include "rapide/inference/quant/float16.h"
#include "rapide/inference/quant/quantize.h"

#include <cassert>
#include <cstring>
#include <limits>
#include <string>

#if defined(RAPIDE_QUANT_AVX2) && (defined(__x86_64__) || defined(__i386__))
#include <cpuid.h>
#endif

namespace rapide::inference {
namespace {

namespace q = quant;

std::string type_name(TensorType type) {
  const auto traits = tensor_type_traits(static_cast<std::uint32_t>(type));
  return traits ? std::string(traits->name) : "type id " + std::to_string(static_cast<std::uint32_t>(type));
}

Status check_row(const char* what, TensorType type, std::int64_t n) {
  if (!quant_supported(type))
    return error(what, ": tensor type ", type_name(type),
                 " is not supported (supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q4_K, "
                 "Q5_K, Q6_K, Q8_K)");
  const auto block = tensor_type_traits(type).block_elements;
  if (n < 0) return error(what, ": negative element count ", n, " for type ", type_name(type));
  if (n % block != 0)
    return error(what, ": a ", type_name(type), " row must hold a multiple of ", block, " elements, got ", n,
                 " (", n % block, " left over)");
  return Status::success();
}

template <class Block>
void dequantize_blocks(const void* src, float* dst, std::int64_t n_blocks, int block_elements) {
  const auto* b = static_cast<const Block*>(src);
  for (std::int64_t i = 0; i < n_blocks; ++i) q::dequantize_block(b[i], dst + i * block_elements);
}

template <class Block>
void quantize_blocks(const float* src, void* dst, std::int64_t n_blocks, int block_elements) {
  auto* b = static_cast<Block*>(dst);
  for (std::int64_t i = 0; i < n_blocks; ++i) q::quantize_block(src + i * block_elements, b[i]);
}

// Scalar row kernels.
template <class W, class A>
float dot_blocks_scalar(const void* w, const void* a, std::int64_t n) {
  constexpr int kBlock = sizeof(W) == sizeof(q::BlockQ4_K) || sizeof(W) == sizeof(q::BlockQ5_K) ||
                                 sizeof(W) == sizeof(q::BlockQ6_K)
                             ? q::kQK_K
                             : q::kQK8_0;
  const auto* wb = static_cast<const W*>(w);
  const auto* ab = static_cast<const A*>(a);
  const std::int64_t nb = n / kBlock;
  float sum = 0;
  for (std::int64_t i = 0; i < nb; ++i) sum += q::dot_block(wb[i], ab[i]);
  return sum;
}

float dot_f32_scalar(const void* w, const void* a, std::int64_t n) {
  const auto* x = static_cast<const float*>(w);
  const auto* y = static_cast<const float*>(a);
  float sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += x[i] * y[i];
  return sum;
}

float dot_f16_scalar(const void* w, const void* a, std::int64_t n) {
  const auto* x = static_cast<const std::uint16_t*>(w);
  const auto* y = static_cast<const float*>(a);
  float sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += q::f16_to_f32(x[i]) * y[i];
  return sum;
}

float dot_bf16_scalar(const void* w, const void* a, std::int64_t n) {
  const auto* x = static_cast<const std::uint16_t*>(w);
  const auto* y = static_cast<const float*>(a);
  float sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += q::bf16_to_f32(x[i]) * y[i];
  return sum;
}

VecDotFn scalar_kernel(TensorType t) {
  switch (t) {
    case TensorType::F32: return dot_f32_scalar;
    case TensorType::F16: return dot_f16_scalar;
    case TensorType::BF16: return dot_bf16_scalar;
    case TensorType::Q4_0: return dot_blocks_scalar<q::BlockQ4_0, q::BlockQ8_0>;
    case TensorType::Q4_1: return dot_blocks_scalar<q::BlockQ4_1, q::BlockQ8_0>;
    case TensorType::Q5_0: return dot_blocks_scalar<q::BlockQ5_0, q::BlockQ8_0>;
    case TensorType::Q5_1: return dot_blocks_scalar<q::BlockQ5_1, q::BlockQ8_0>;
    case TensorType::Q8_0: return dot_blocks_scalar<q::BlockQ8_0, q::BlockQ8_0>;
    case TensorType::Q4_K: return dot_blocks_scalar<q::BlockQ4_K, q::BlockQ8_K>;
    case TensorType::Q5_K: return dot_blocks_scalar<q::BlockQ5_K, q::BlockQ8_K>;
    case TensorType::Q6_K: return dot_blocks_scalar<q::BlockQ6_K, q::BlockQ8_K>;
    default: return nullptr;
  }
}

VecDotFn avx2_kernel(TensorType t) {
  static const quant::kernels::Avx2Kernels k =
      quant::kernels::cpu_has_avx2() ? quant::kernels::avx2_kernels() : quant::kernels::Avx2Kernels{};
  VecDotFn f = nullptr;
  switch (t) {
    case TensorType::F32: f = k.f32; break;
    case TensorType::F16: f = k.f16; break;
    case TensorType::BF16: f = k.bf16; break;
    case TensorType::Q4_0: f = k.q4_0; break;
    case TensorType::Q4_1: f = k.q4_1; break;
    case TensorType::Q5_0: f = k.q5_0; break;
    case TensorType::Q5_1: f = k.q5_1; break;
    case TensorType::Q8_0: f = k.q8_0; break;
    case TensorType::Q4_K: f = k.q4_k; break;
    case TensorType::Q5_K: f = k.q5_k; break;
    case TensorType::Q6_K: f = k.q6_k; break;
    default: break;
  }
  return f ? f : scalar_kernel(t);
}

float nan_dot(const void*, const void*, std::int64_t) { return std::numeric_limits<float>::quiet_NaN(); }

}  // namespace

namespace quant::kernels {

bool cpu_has_avx2() {
#if defined(RAPIDE_QUANT_AVX2) && (defined(__x86_64__) || defined(__i386__))
  // cpuid, not __builtin_cpu_supports: clang rejects "f16c" there.
  static const bool has = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    const bool fma = (c >> 12) & 1u, osxsave = (c >> 27) & 1u, avx = (c >> 28) & 1u, f16c = (c >> 29) & 1u;
    if (!(fma && osxsave && avx && f16c)) return false;
    unsigned xlo = 0, xhi = 0;  // the OS must save YMM state (XCR0 bits 1 and 2)
    __asm__("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    if ((xlo & 6u) != 6u || __get_cpuid_max(0, nullptr) < 7) return false;
    __cpuid_count(7, 0, a, b, c, d);
    return ((b >> 5) & 1u) != 0;  // AVX2
  }();
  return has;
#else
  return false;
#endif
}

#if !defined(RAPIDE_QUANT_AVX2)
Avx2Kernels avx2_kernels() { return {}; }
#endif

}  // namespace quant::kernels

bool quant_supported(TensorType type) {
  switch (type) {
    case TensorType::F32:
    case TensorType::F16:
    case TensorType::BF16:
    case TensorType::Q4_0:
    case TensorType::Q4_1:
    case TensorType::Q5_0:
    case TensorType::Q5_1:
    case TensorType::Q8_0:
    case TensorType::Q8_1:
    case TensorType::Q4_K:
    case TensorType::Q5_K:
    case TensorType::Q6_K:
    case TensorType::Q8_K: return true;
    default: return false;
  }
}

Status dequantize_row(TensorType type, const void* src, float* dst, std::int64_t n) {
  if (Status s = check_row("dequantize_row", type, n); !s) return s;
  const int be = static_cast<int>(tensor_type_traits(type).block_elements);
  const std::int64_t nb = n / be;
  switch (type) {
    case TensorType::F32: std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(float)); break;
    case TensorType::F16: {
      const auto* h = static_cast<const std::uint16_t*>(src);
      for (std::int64_t i = 0; i < n; ++i) dst[i] = q::f16_to_f32(h[i]);
      break;
    }
    case TensorType::BF16: {
      const auto* h = static_cast<const std::uint16_t*>(src);
      for (std::int64_t i = 0; i < n; ++i) dst[i] = q::bf16_to_f32(h[i]);
      break;
    }
    case TensorType::Q4_0: dequantize_blocks<q::BlockQ4_0>(src, dst, nb, be); break;
    case TensorType::Q4_1: dequantize_blocks<q::BlockQ4_1>(src, dst, nb, be); break;
    case TensorType::Q5_0: dequantize_blocks<q::BlockQ5_0>(src, dst, nb, be); break;
    case TensorType::Q5_1: dequantize_blocks<q::BlockQ5_1>(src, dst, nb, be); break;
    case TensorType::Q8_0: dequantize_blocks<q::BlockQ8_0>(src, dst, nb, be); break;
    case TensorType::Q8_1: dequantize_blocks<q::BlockQ8_1>(src, dst, nb, be); break;
    case TensorType::Q4_K: dequantize_blocks<q::BlockQ4_K>(src, dst, nb, be); break;
    case TensorType::Q5_K: dequantize_blocks<q::BlockQ5_K>(src, dst, nb, be); break;
    case TensorType::Q6_K: dequantize_blocks<q::BlockQ6_K>(src, dst, nb, be); break;
    case TensorType::Q8_K: dequantize_blocks<q::BlockQ8_K>(src, dst, nb, be); break;
    default: return error("dequantize_row: unhandled type ", type_name(type));  // unreachable
  }
  return Status::success();
}

Status quantize_row(TensorType type, const float* src, void* dst, std::int64_t n) {
  if (Status s = check_row("quantize_row", type, n); !s) return s;
  const int be = static_cast<int>(tensor_type_traits(type).block_elements);
  const std::int64_t nb = n / be;
  if (type != TensorType::F32 && type != TensorType::F16 && type != TensorType::BF16) {
    // Block quantizers turn floats into integers: NaN/Inf would give garbage (or undefined
    // conversions), so refuse them with the position.
    for (std::int64_t i = 0; i < n; ++i) {
      if ((q::f32_bits(src[i]) & 0x7f800000u) == 0x7f800000u)
        return error("quantize_row: element ", i, " is ", src[i] != src[i] ? "NaN" : "infinite",
                     ": cannot quantize to ", type_name(type));
    }
  }
  switch (type) {
    case TensorType::F32: std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(float)); break;
    case TensorType::F16: {
      auto* h = static_cast<std::uint16_t*>(dst);
      for (std::int64_t i = 0; i < n; ++i) h[i] = q::f32_to_f16(src[i]);
      break;
    }
    case TensorType::BF16: {
      auto* h = static_cast<std::uint16_t*>(dst);
      for (std::int64_t i = 0; i < n; ++i) h[i] = q::f32_to_bf16(src[i]);
      break;
    }
    case TensorType::Q4_0: quantize_blocks<q::BlockQ4_0>(src, dst, nb, be); break;
    case TensorType::Q4_1: quantize_blocks<q::BlockQ4_1>(src, dst, nb, be); break;
    case TensorType::Q5_0: quantize_blocks<q::BlockQ5_0>(src, dst, nb, be); break;
    case TensorType::Q5_1: quantize_blocks<q::BlockQ5_1>(src, dst, nb, be); break;
    case TensorType::Q8_0: quantize_blocks<q::BlockQ8_0>(src, dst, nb, be); break;
    case TensorType::Q8_1: quantize_blocks<q::BlockQ8_1>(src, dst, nb, be); break;
    case TensorType::Q4_K: quantize_blocks<q::BlockQ4_K>(src, dst, nb, be); break;
    case TensorType::Q5_K: quantize_blocks<q::BlockQ5_K>(src, dst, nb, be); break;
    case TensorType::Q6_K: quantize_blocks<q::BlockQ6_K>(src, dst, nb, be); break;
    case TensorType::Q8_K: quantize_blocks<q::BlockQ8_K>(src, dst, nb, be); break;
    default: return error("quantize_row: unhandled type ", type_name(type));  // unreachable
  }
  return Status::success();
}

bool quant_isa_available(QuantIsa isa) {
  switch (isa) {
    case QuantIsa::Scalar: return true;
    case QuantIsa::Avx2: return quant::kernels::cpu_has_avx2();
  }
  return false;
}

QuantIsa quant_best_isa() { return quant::kernels::cpu_has_avx2() ? QuantIsa::Avx2 : QuantIsa::Scalar; }

const char* quant_isa_name(QuantIsa isa) {
  switch (isa) {
    case QuantIsa::Scalar: return "scalar";
    case QuantIsa::Avx2: return "avx2";
  }
  return "unknown";
}

bool vec_dot_supported(TensorType weight_type) { return scalar_kernel(weight_type) != nullptr; }

TensorType vec_dot_activation_type(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::Q4_0:
    case TensorType::Q4_1:
    case TensorType::Q5_0:
    case TensorType::Q5_1:
    case TensorType::Q8_0: return TensorType::Q8_0;
    case TensorType::Q4_K:
    case TensorType::Q5_K:
    case TensorType::Q6_K: return TensorType::Q8_K;
    default: return TensorType::F32;
  }
}

VecDotFn vec_dot_function(TensorType weight_type, QuantIsa isa) {
  if (isa == QuantIsa::Avx2 && quant::kernels::cpu_has_avx2()) return avx2_kernel(weight_type);
  return scalar_kernel(weight_type);
}

VecDotFn vec_dot_function(TensorType weight_type) { return vec_dot_function(weight_type, quant_best_isa()); }

float vec_dot(TensorType weight_type, const void* weight_row, const void* act_row, std::int64_t n, QuantIsa isa) {
  VecDotFn f = vec_dot_function(weight_type, isa);
  assert(f && "vec_dot: unsupported weight type");
  const bool whole_blocks = n >= 0 && n % tensor_type_traits(weight_type).block_elements == 0;
  assert(whole_blocks && "vec_dot: n not a multiple of the block size");
  if (!f || !whole_blocks) f = nan_dot;
  return f(weight_row, act_row, n);
}

float vec_dot(TensorType weight_type, const void* weight_row, const void* act_row, std::int64_t n) {
  return vec_dot(weight_type, weight_row, act_row, n, quant_best_isa());
}

void vec_dot_rows(TensorType weight_type, const void* weights, std::size_t row_stride_bytes, std::int64_t n_rows,
                  const void* act_row, std::int64_t n, float* out) {
  VecDotFn f = vec_dot_function(weight_type);
  assert(f && "vec_dot_rows: unsupported weight type");
  if (!f) f = nan_dot;
  const auto* base = static_cast<const std::uint8_t*>(weights);
  for (std::int64_t r = 0; r < n_rows; ++r) out[r] = f(base + static_cast<std::size_t>(r) * row_stride_bytes, act_row, n);
}

}  // namespace rapide::inference
