// Device-side access to one element of a weight row in its GGUF form, shared by the
// dequantize-to-FP16 (dequantize_f16.cu) and get_rows (get_rows.cu) kernels. The arithmetic is
// quant/dequantize_element.h (RAPIDE_HD, tested on the CPU); this header only maps a TensorType to
// its block struct and finds the block of element c. Internal to rapide_inference_cuda.
#pragma once

#include "rapide/inference/quant/blocks.h"
#include "rapide/inference/quant/dequantize_element.h"
#include "rapide/inference/quant/float16.h"
#include "rapide/inference/tensor_type.h"

#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

namespace rapide::inference::cuda {

template <TensorType T>
struct BlockOf;
template <> struct BlockOf<TensorType::Q4_0> { using type = quant::BlockQ4_0; static constexpr int n = quant::kQK4_0; };
template <> struct BlockOf<TensorType::Q4_1> { using type = quant::BlockQ4_1; static constexpr int n = quant::kQK4_1; };
template <> struct BlockOf<TensorType::Q5_0> { using type = quant::BlockQ5_0; static constexpr int n = quant::kQK5_0; };
template <> struct BlockOf<TensorType::Q5_1> { using type = quant::BlockQ5_1; static constexpr int n = quant::kQK5_1; };
template <> struct BlockOf<TensorType::Q8_0> { using type = quant::BlockQ8_0; static constexpr int n = quant::kQK8_0; };
template <> struct BlockOf<TensorType::Q4_K> { using type = quant::BlockQ4_K; static constexpr int n = quant::kQK_K; };
template <> struct BlockOf<TensorType::Q5_K> { using type = quant::BlockQ5_K; static constexpr int n = quant::kQK_K; };
template <> struct BlockOf<TensorType::Q6_K> { using type = quant::BlockQ6_K; static constexpr int n = quant::kQK_K; };

// Element c of the row starting at `row` (device memory, 2-byte aligned as every block is).
template <TensorType T>
__device__ __forceinline__ float weight_element(const std::uint8_t* row, std::int64_t c) {
  if constexpr (T == TensorType::F32) {
    return reinterpret_cast<const float*>(row)[c];
  } else if constexpr (T == TensorType::F16) {
    return quant::f16_to_f32(reinterpret_cast<const std::uint16_t*>(row)[c]);
  } else if constexpr (T == TensorType::BF16) {
    return quant::bf16_to_f32(reinterpret_cast<const std::uint16_t*>(row)[c]);
  } else {
    using B = typename BlockOf<T>::type;
    constexpr int n = BlockOf<T>::n;
    const B& b = reinterpret_cast<const B*>(row)[c / n];
    return quant::dequantize_element(b, static_cast<int>(c % n));
  }
}

// Calls f(TypeTag<T>{}) for the runtime type t (C++17: a generic lambda reads T as
// decltype(tag)::value); false for a type without kernels.
template <TensorType T>
using TypeTag = std::integral_constant<TensorType, T>;

template <class F>
bool dispatch_weight_type(TensorType t, F&& f) {
  switch (t) {
    case TensorType::F32: f(TypeTag<TensorType::F32>{}); return true;
    case TensorType::F16: f(TypeTag<TensorType::F16>{}); return true;
    case TensorType::BF16: f(TypeTag<TensorType::BF16>{}); return true;
    case TensorType::Q4_0: f(TypeTag<TensorType::Q4_0>{}); return true;
    case TensorType::Q4_1: f(TypeTag<TensorType::Q4_1>{}); return true;
    case TensorType::Q5_0: f(TypeTag<TensorType::Q5_0>{}); return true;
    case TensorType::Q5_1: f(TypeTag<TensorType::Q5_1>{}); return true;
    case TensorType::Q8_0: f(TypeTag<TensorType::Q8_0>{}); return true;
    case TensorType::Q4_K: f(TypeTag<TensorType::Q4_K>{}); return true;
    case TensorType::Q5_K: f(TypeTag<TensorType::Q5_K>{}); return true;
    case TensorType::Q6_K: f(TypeTag<TensorType::Q6_K>{}); return true;
    default: return false;
  }
}

}  // namespace rapide::inference::cuda
