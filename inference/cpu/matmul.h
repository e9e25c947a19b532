// The CPU backend's matrix products y = W x (inference/cpu private), behind CpuBackend::matmul.
//
// Layout: W is a WeightView (n_rows rows of n_cols elements, row_bytes apart, any supported
// type); x holds n_tokens rows of n_cols floats; y receives n_tokens rows of n_rows floats
// (y[t * n_rows + r] = dot(W row r, x row t)).
//
// Block-quantized weights (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K): the activations are first converted
// once per call to vec_dot_activation_type(W) (Q8_0 or Q8_K, as llama.cpp does), then integer
// kernels compute tiles of 4 weight rows x up to 4 tokens: int8 products summed in int32 inside
// each block, scaled to float per block and summed in float across blocks (ggml's numerics; the
// result differs from quant.h's vec_dot only by float summation order).
//  - decode (n_tokens <= kGemvMaxTokens): the rows are split into one contiguous chunk per thread
//    (a single sequential stream per core is what reaches the memory bandwidth);
//  - prefill: row panels small enough to stay in L2 are handed out as tasks, and each panel walks
//    the tokens in tiles of 4 (so a weight panel is read from memory once per call, and each
//    activation tile is reused by every row of the panel from L1).
// Other types (F32, F16, BF16) use float dot products with FMA: F32 rows in tiles of 4 rows x 3
// tokens (AVX2; one row dot per pair otherwise), F16/BF16 rows converted on the fly.
//
// Instruction sets: AVX2+FMA+F16C kernels when cpuid reports them (matmul_avx2.cpp is the only
// file compiled for AVX2), else the quant library's scalar row dots. matmul_quantized takes the
// ISA explicitly so tests can compare both paths on the same CPU.
//
// Thread-safety: the functions run their loops on the given pool and are called by one thread at
// a time per pool (the backend's caller); they keep no state.
#pragma once

#include "cpu/thread_pool.h"
#include "rapide/inference/backend.h"
#include "rapide/inference/tensor_type.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace rapide::inference::cpu {

// Batches up to this many tokens are multiplied as GEMV (one contiguous row chunk per thread).
inline constexpr std::int64_t kGemvMaxTokens = 4;

enum class MatmulIsa { Scalar, Avx2 };

// cpuid: AVX2, FMA, F16C and the OS saving YMM state (probed once).
bool cpu_has_avx2_fma_f16c();
bool matmul_isa_available(MatmulIsa isa);
MatmulIsa matmul_best_isa();
const char* matmul_isa_name(MatmulIsa isa);

// True for the weight types with integer dot products (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K: tile kernels;
// Q4_1, Q5_0, Q5_1: the quant library's row dot).
bool matmul_int8_type(TensorType weight_type);

// Converts the n_tokens rows of x (n_cols floats each) to vec_dot_activation_type(weight_type)
// into `act` (resized as needed); *act_row receives the bytes per token. Returns false when a
// value is NaN or infinite (block formats cannot hold them; the caller then uses the float path).
bool quantize_activations(ThreadPool& pool, TensorType weight_type, const float* x, std::int64_t n_tokens,
                          std::int64_t n_cols, std::vector<std::uint8_t>& act, std::size_t* act_row);

// y = W x with W of a matmul_int8_type and activations from quantize_activations. `isa` must be
// available.
void matmul_int8(ThreadPool& pool, const WeightView& w, const std::uint8_t* act, std::size_t act_row,
                 std::int64_t n_tokens, float* y, MatmulIsa isa);

// One token through several weights of a matmul_int8_type sharing the input (act: one row from
// quantize_activations): y_i = W_i act, all rows of all weights cut into one contiguous range per
// thread, so the threads meet once instead of once per weight.
void gemv_int8_many(ThreadPool& pool, std::span<const Backend::MatmulOut> outs, const std::uint8_t* act, MatmulIsa isa);

// y = W x on floats: for F32/F16/BF16 weights (any type dequantize_weight_row handles works, the
// rows then being decoded into `scratch`, one vector per pool thread).
void matmul_float(ThreadPool& pool, const WeightView& w, const float* x, std::int64_t n_tokens, float* y,
                  std::vector<std::vector<float>>& scratch);

// Rows of float scratch per thread that matmul_float needs for n_cols-wide weights.
std::size_t matmul_float_scratch(std::int64_t n_cols);

namespace mm {
// One tile: rows r = 0..3 at w + r * w_stride, tokens t = 0..n_tokens-1 (1..4) at
// a + t * a_stride, n_blocks blocks per row; y[t * ldy + r] receives the dot products.
struct Tile {
  const std::uint8_t* w;
  std::size_t w_stride;
  const std::uint8_t* a;
  std::size_t a_stride;
  std::int64_t n_blocks;
  float* y;
  std::int64_t ldy;
};
using TileFn = void (*)(const Tile& tile, int n_tokens);
// AVX2 tile kernel for a matmul_int8_type; nullptr otherwise (defined in matmul_avx2.cpp,
// call only when cpu_has_avx2_fma_f16c()).
TileFn avx2_tile(TensorType weight_type);

// F32 weights: rows r < n_rows (1..4) at w + r * w_stride floats, tokens t < n_tokens (1..3) at
// x + t * x_stride floats, n_cols columns; y[t * ldy + r] receives the dot products.
struct F32Tile {
  const float* w;
  std::size_t w_stride;
  const float* x;
  std::size_t x_stride;
  std::int64_t n_cols;
  float* y;
  std::int64_t ldy;
};
inline constexpr int kF32TileRows = 4;
inline constexpr int kF32TileTokens = 3;
// Defined in matmul_avx2.cpp; call only when cpu_has_avx2_fma_f16c().
void avx2_f32_tile(const F32Tile& tile, int n_rows, int n_tokens);
}  // namespace mm

}  // namespace rapide::inference::cpu
