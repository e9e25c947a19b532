// ggml tensor types as stored in GGUF files: ids, block sizes and byte sizes. The ids are
// llama.cpp's (ggml.h `enum ggml_type`) and never change. Types rapide cannot compute with are
// still listed so files holding them can be described and rejected by name.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace rapide::inference {

enum class TensorType : std::uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
};

struct TensorTypeTraits {
  TensorType type;
  std::string_view name;        // llama.cpp's upper-case name: "Q4_K"
  std::uint32_t block_elements;  // elements per block (1 for plain types)
  std::uint32_t block_bytes;     // bytes per block
};

// Traits of a type id read from a file; nullopt for ids ggml never defined (or removed).
std::optional<TensorTypeTraits> tensor_type_traits(std::uint32_t id);
TensorTypeTraits tensor_type_traits(TensorType type);

// Bytes of a row of `n_elements`; nullopt when n is not a multiple of the block size.
std::optional<std::uint64_t> tensor_row_bytes(TensorType type, std::uint64_t n_elements);

// Lower-case names as llama.cpp's tools spell them on the command line ("q4_k", "bf16").
std::optional<TensorType> tensor_type_from_name(std::string_view lower_case_name);

}  // namespace rapide::inference
