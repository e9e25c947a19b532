// Quantized block layouts, byte for byte those of llama.cpp/ggml (ggml-common.h), so the tensor
// bytes of a GGUF file can be read through these structs directly. Declared once, here, for the
// CPU backend, the CUDA backend and the GGUF tools.
//
// Conventions shared by every format:
//  - `d`, `dmin`, `m`, `s` are IEEE half floats stored as raw uint16_t bits (little endian, as
//    everything in GGUF); convert with f16_to_f32 / f32_to_f16 (quant/float16.h). Q8_K alone keeps
//    a float `d` (it exists only for activations, never in files).
//  - A block covers kQK* consecutive elements of a row; rows are whole numbers of blocks.
//  - Every struct is trivially copyable, has alignment 1 or 2 (4 for Q8_K) and no padding: the
//    static_asserts below pin the sizes to ggml's so a mismatch fails to compile.
//
// Element order inside the blocks (which quant sits where) is documented on each struct; the
// dequantizers in quant/dequantize.h are the executable definition.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace rapide::inference::quant {

inline constexpr int kQK4_0 = 32;
inline constexpr int kQK4_1 = 32;
inline constexpr int kQK5_0 = 32;
inline constexpr int kQK5_1 = 32;
inline constexpr int kQK8_0 = 32;
inline constexpr int kQK8_1 = 32;
inline constexpr int kQK_K = 256;          // super-block of the K-quants
inline constexpr int kKScaleSize = 12;    // packed 6-bit scales+mins of Q4_K/Q5_K

// Q4_0: x = d * (q - 8), q in [0, 15]. qs[j] holds element j in its low nibble and element
// j + 16 in its high nibble.
struct BlockQ4_0 {
  std::uint16_t d;
  std::uint8_t qs[kQK4_0 / 2];
};

// Q4_1: x = d * q + m, q in [0, 15]; nibble order as Q4_0.
struct BlockQ4_1 {
  std::uint16_t d;
  std::uint16_t m;
  std::uint8_t qs[kQK4_1 / 2];
};

// Q5_0: x = d * (q - 16), q in [0, 31]. Low 4 bits as Q4_0; bit 4 of element j is bit j of the
// little-endian uint32 qh.
struct BlockQ5_0 {
  std::uint16_t d;
  std::uint8_t qh[4];
  std::uint8_t qs[kQK5_0 / 2];
};

// Q5_1: x = d * q + m, q in [0, 31]; bits as Q5_0.
struct BlockQ5_1 {
  std::uint16_t d;
  std::uint16_t m;
  std::uint8_t qh[4];
  std::uint8_t qs[kQK5_1 / 2];
};

// Q8_0: x = d * q, q in [-127, 127].
struct BlockQ8_0 {
  std::uint16_t d;
  std::int8_t qs[kQK8_0];
};

// Q8_1: x = d * q; s = d * sum(q) (half). llama.cpp's activation format for Q4_1/Q5_1.
struct BlockQ8_1 {
  std::uint16_t d;
  std::uint16_t s;
  std::int8_t qs[kQK8_1];
};

// Q4_K: 8 sub-blocks of 32; x = d * sc[j] * q - dmin * m[j], q in [0, 15]; sc/m are 6-bit,
// packed in `scales` (see k_scale_min()). qs: for each 64-element chunk c (32 bytes), byte l
// holds element 64c + l in the low nibble and 64c + 32 + l in the high nibble.
struct BlockQ4_K {
  std::uint16_t d;
  std::uint16_t dmin;
  std::uint8_t scales[kKScaleSize];
  std::uint8_t qs[kQK_K / 2];
};

// Q5_K: as Q4_K with q in [0, 31]; bit 4 of element 64c + l is bit 2c of qh[l], of element
// 64c + 32 + l bit 2c + 1.
struct BlockQ5_K {
  std::uint16_t d;
  std::uint16_t dmin;
  std::uint8_t scales[kKScaleSize];
  std::uint8_t qh[kQK_K / 8];
  std::uint8_t qs[kQK_K / 2];
};

// Q6_K: 16 sub-blocks of 16; x = d * scales[j] * (q - 32), q in [0, 63]. For each 128-element
// half h (ql bytes 64h.., qh bytes 32h..), with l in [0, 32):
//   element 128h +      l: low nibble of ql[l],      bits 0-1 of qh[l]
//   element 128h + 32 + l: low nibble of ql[l + 32], bits 2-3 of qh[l]
//   element 128h + 64 + l: high nibble of ql[l],     bits 4-5 of qh[l]
//   element 128h + 96 + l: high nibble of ql[l + 32], bits 6-7 of qh[l]
struct BlockQ6_K {
  std::uint8_t ql[kQK_K / 2];
  std::uint8_t qh[kQK_K / 4];
  std::int8_t scales[kQK_K / 16];
  std::uint16_t d;
};

// Q8_K: activations for the K-quant dot products. x = d * q; bsums[j] = sum of qs[16j..16j+15].
struct BlockQ8_K {
  float d;
  std::int8_t qs[kQK_K];
  std::int16_t bsums[kQK_K / 16];
};

static_assert(sizeof(BlockQ4_0) == 18, "Q4_0 block must be 18 bytes (ggml block_q4_0)");
static_assert(sizeof(BlockQ4_1) == 20, "Q4_1 block must be 20 bytes (ggml block_q4_1)");
static_assert(sizeof(BlockQ5_0) == 22, "Q5_0 block must be 22 bytes (ggml block_q5_0)");
static_assert(sizeof(BlockQ5_1) == 24, "Q5_1 block must be 24 bytes (ggml block_q5_1)");
static_assert(sizeof(BlockQ8_0) == 34, "Q8_0 block must be 34 bytes (ggml block_q8_0)");
static_assert(sizeof(BlockQ8_1) == 36, "Q8_1 block must be 36 bytes (ggml block_q8_1)");
static_assert(sizeof(BlockQ4_K) == 144, "Q4_K block must be 144 bytes (ggml block_q4_K)");
static_assert(sizeof(BlockQ5_K) == 176, "Q5_K block must be 176 bytes (ggml block_q5_K)");
static_assert(sizeof(BlockQ6_K) == 210, "Q6_K block must be 210 bytes (ggml block_q6_K)");
static_assert(sizeof(BlockQ8_K) == 292, "Q8_K block must be 292 bytes (ggml block_q8_K)");

static_assert(offsetof(BlockQ5_0, qs) == 6 && offsetof(BlockQ5_1, qs) == 8);
static_assert(offsetof(BlockQ4_K, qs) == 16 && offsetof(BlockQ5_K, qh) == 16 && offsetof(BlockQ5_K, qs) == 48);
static_assert(offsetof(BlockQ6_K, qh) == 128 && offsetof(BlockQ6_K, scales) == 192 && offsetof(BlockQ6_K, d) == 208);
static_assert(offsetof(BlockQ8_K, qs) == 4 && offsetof(BlockQ8_K, bsums) == 260);
static_assert(std::is_trivially_copyable_v<BlockQ4_K> && std::is_trivially_copyable_v<BlockQ6_K>);

}  // namespace rapide::inference::quant
