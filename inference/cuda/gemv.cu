// Quantized and float GEMV (see gemv.cuh): y[t, r] = sum_c W[r, c] x[t, c] for up to 16 tokens,
// every weight byte read once for all tokens (decode is bound by weight bandwidth).
//
// Work split: one warp per weight row, kRowsPerBlock (4) warps per CUDA block, grid over rows
// (blockIdx.x * 4 + warp). Within a row:
//  - 32-element formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0): lane j takes blocks j, j + 32, ...; the
//    warp reads 32 consecutive blocks (576..1088 contiguous bytes) per step. These blocks are only
//    2-byte aligned (18/20/22/24/34 bytes), so the quants are read as 16-bit loads into 32-bit words.
//  - K-quants (Q4_K, Q5_K, Q6_K): eight lanes per 256-element super-block (the "parts" of
//    quant/dp4a.h), four super-blocks per warp step. Q4_K/Q5_K blocks (144/176 bytes) are 16-byte
//    aligned: each lane reads its 16 qs bytes (and Q5_K's 16 qh bytes) with one 16-byte load, the
//    8 lanes of a super-block covering its 128 qs bytes contiguously. Q6_K (210 bytes) is 2-byte
//    aligned: 16-bit loads.
//  Activations: int8 rows of quantize_a8, read with 16-byte (8-byte for Q6_K) loads, plus one
//  float2 (scale, sum) per 32 values; they are small and L1/L2-resident across the rows.
//  Integer products with __dp4a (quant/dp4a.h, the CPU-tested arithmetic), fp32 accumulation per
//  token in registers, a warp-shuffle reduction at the end, lane 0 writes the n_tokens outputs.
// The token count is a template bucket (1, 2, 4, 8, 16) with a runtime bound inside, so a batch
// of 3 runs the 4-bucket with the fourth accumulator unused (5 x 11 instantiations in all).
// No shared memory, no atomics.
#include "gemv.cuh"

#include "cuda_util.cuh"
#include "rapide/inference/quant/blocks.h"
#include "rapide/inference/quant/dp4a.h"
#include "rapide/inference/quant/float16.h"
#include "weight_element.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace rapide::inference::cuda {

namespace {

constexpr int kRowsPerBlock = 4;

struct GemvParams {
  const std::uint8_t* w;  // row r at w + r * row_bytes
  std::size_t row_bytes;
  std::int64_t n_rows, n_cols;
  int n_tokens;
  const std::int8_t* q;  // [n_tokens, n_cols]
  const float2* ds;      // [n_tokens, n_cols / 32]
  const float* x;        // float GEMV: [n_tokens, n_cols]
  float* y;              // [n_tokens, n_rows]
};

// A 32-bit word from a 2-byte-aligned address.
__device__ __forceinline__ std::uint32_t ld_u32_a2(const std::uint8_t* p) {
  const auto* h = reinterpret_cast<const std::uint16_t*>(p);
  return static_cast<std::uint32_t>(__ldg(h)) | (static_cast<std::uint32_t>(__ldg(h + 1)) << 16);
}
__device__ __forceinline__ float ld_f16(const std::uint16_t* p) { return quant::f16_to_f32(__ldg(p)); }

__device__ __forceinline__ void ld_a16(const std::int8_t* p, int* a) {  // 16 bytes, 16-aligned
  const int4 v = __ldg(reinterpret_cast<const int4*>(p));
  a[0] = v.x;
  a[1] = v.y;
  a[2] = v.z;
  a[3] = v.w;
}

template <int NT>
__device__ __forceinline__ void reduce_and_store(float (&acc)[NT], const GemvParams& p, std::int64_t row) {
#pragma unroll
  for (int t = 0; t < NT; ++t) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) acc[t] += __shfl_xor_sync(0xffffffffu, acc[t], o);
  }
  if (threadIdx.x % 32 == 0) {
#pragma unroll
    for (int t = 0; t < NT; ++t)
      if (t < p.n_tokens) p.y[static_cast<std::int64_t>(t) * p.n_rows + row] = acc[t];
  }
}

// One 32-element block b of a row (T in Q4_0..Q8_0) against every token.
template <TensorType T, int NT>
__device__ __forceinline__ void block32_dot(const std::uint8_t* wrow, std::int64_t b, const GemvParams& p,
                                            float (&acc)[NT]) {
  using B = typename BlockOf<T>::type;
  const std::uint8_t* blk = wrow + b * static_cast<std::int64_t>(sizeof(B));
  const float d = ld_f16(reinterpret_cast<const std::uint16_t*>(blk));
  std::uint32_t qs[8];
  float m = 0.0f;
  std::uint32_t qh = 0;
  if constexpr (T == TensorType::Q8_0) {
#pragma unroll
    for (int k = 0; k < 8; ++k) qs[k] = ld_u32_a2(blk + offsetof(B, qs) + 4 * k);
  } else {
#pragma unroll
    for (int k = 0; k < 4; ++k) qs[k] = ld_u32_a2(blk + offsetof(B, qs) + 4 * k);
    if constexpr (T == TensorType::Q4_1 || T == TensorType::Q5_1)
      m = ld_f16(reinterpret_cast<const std::uint16_t*>(blk + offsetof(B, m)));
    if constexpr (T == TensorType::Q5_0 || T == TensorType::Q5_1) qh = ld_u32_a2(blk + offsetof(B, qh));
  }
  const std::int64_t nb = p.n_cols / 32;
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    if (t >= p.n_tokens) break;
    int a[8];
    const std::int8_t* qa = p.q + static_cast<std::int64_t>(t) * p.n_cols + 32 * b;
    ld_a16(qa, a);
    ld_a16(qa + 16, a + 4);
    const float2 s = __ldg(p.ds + t * nb + b);
    const int asum = static_cast<int>(s.y);
    if constexpr (T == TensorType::Q4_0) {
      acc[t] += quant::finish_q4_0(d, s.x, quant::dot_q4_words(qs, a), asum);
    } else if constexpr (T == TensorType::Q4_1) {
      acc[t] += quant::finish_min(d, m, s.x, quant::dot_q4_words(qs, a), asum);
    } else if constexpr (T == TensorType::Q5_0) {
      acc[t] += quant::finish_q5_0(d, s.x, quant::dot_q5_words(qs, qh, a), asum);
    } else if constexpr (T == TensorType::Q5_1) {
      acc[t] += quant::finish_min(d, m, s.x, quant::dot_q5_words(qs, qh, a), asum);
    } else {
      acc[t] += quant::finish_q8_0(d, s.x, quant::dot_q8_words(reinterpret_cast<const int*>(qs), a));
    }
  }
}

// Part `part` (0..7) of super-block sb of a row (T in Q4_K, Q5_K, Q6_K) against every token.
template <TensorType T, int NT>
__device__ __forceinline__ void superblock_dot(const std::uint8_t* wrow, std::int64_t sb, int part,
                                               const GemvParams& p, float (&acc)[NT]) {
  using B = typename BlockOf<T>::type;
  const std::uint8_t* blk = wrow + sb * static_cast<std::int64_t>(sizeof(B));
  const std::int64_t nb = p.n_cols / 32;
  if constexpr (T == TensorType::Q6_K) {
    const int h = part / 4, l0 = 8 * (part % 4);
    std::uint32_t ql_a[2], ql_b[2], qh[2];
#pragma unroll
    for (int w = 0; w < 2; ++w) {
      ql_a[w] = ld_u32_a2(blk + offsetof(B, ql) + 64 * h + l0 + 4 * w);
      ql_b[w] = ld_u32_a2(blk + offsetof(B, ql) + 64 * h + 32 + l0 + 4 * w);
      qh[w] = ld_u32_a2(blk + offsetof(B, qh) + 32 * h + l0 + 4 * w);
    }
    const float d = ld_f16(reinterpret_cast<const std::uint16_t*>(blk + offsetof(B, d)));
    const auto* scales = reinterpret_cast<const std::int8_t*>(blk + offsetof(B, scales));
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      if (t >= p.n_tokens) break;
      const std::int8_t* qa = p.q + static_cast<std::int64_t>(t) * p.n_cols + 256 * sb + 128 * h + l0;
      int a[8];
      float da[4];
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const int2 v = __ldg(reinterpret_cast<const int2*>(qa + 32 * k));
        a[2 * k] = v.x;
        a[2 * k + 1] = v.y;
        da[k] = __ldg(p.ds + t * nb + 8 * sb + 4 * h + k).x;
      }
      acc[t] += quant::dot_q6_k_part(d, scales, part, ql_a, ql_b, qh, a, da);
    }
  } else {
    const quant::KPart kp = quant::k_part(part);
    const uint4 qv = __ldg(reinterpret_cast<const uint4*>(blk + offsetof(B, qs) + 32 * kp.c + kp.l0));
    const std::uint32_t qs[4] = {qv.x, qv.y, qv.z, qv.w};
    std::uint32_t qh[4] = {0, 0, 0, 0};
    if constexpr (T == TensorType::Q5_K) {
      const uint4 hv = __ldg(reinterpret_cast<const uint4*>(blk + offsetof(B, qh) + kp.l0));
      qh[0] = hv.x;
      qh[1] = hv.y;
      qh[2] = hv.z;
      qh[3] = hv.w;
    }
    const uint2 dm = make_uint2(__ldg(reinterpret_cast<const std::uint16_t*>(blk + offsetof(B, d))),
                                __ldg(reinterpret_cast<const std::uint16_t*>(blk + offsetof(B, dmin))));
    const float d = quant::f16_to_f32(static_cast<std::uint16_t>(dm.x));
    const float dmin = quant::f16_to_f32(static_cast<std::uint16_t>(dm.y));
    // Scales and mins of this part's two sub-blocks, once for all tokens (byte loads: L1 hits
    // after the first lane of the super-block).
    const quant::KScales ks = quant::k_part_scales(blk + offsetof(B, scales), kp.c);
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      if (t >= p.n_tokens) break;
      const std::int8_t* qa = p.q + static_cast<std::int64_t>(t) * p.n_cols + 256 * sb + 64 * kp.c + kp.l0;
      int a_lo[4], a_hi[4];
      ld_a16(qa, a_lo);
      ld_a16(qa + 32, a_hi);
      const float da_lo = __ldg(p.ds + t * nb + 8 * sb + 2 * kp.c).x;
      const float da_hi = __ldg(p.ds + t * nb + 8 * sb + 2 * kp.c + 1).x;
      if constexpr (T == TensorType::Q4_K)
        acc[t] += quant::dot_q4_k_part(d, dmin, ks, qs, a_lo, a_hi, da_lo, da_hi);
      else
        acc[t] += quant::dot_q5_k_part(d, dmin, ks, part, qs, qh, a_lo, a_hi, da_lo, da_hi);
    }
  }
}

template <TensorType T, int NT>
__global__ void __launch_bounds__(kRowsPerBlock * 32) gemv_a8_kernel(GemvParams p) {
  const std::int64_t row = static_cast<std::int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
  if (row >= p.n_rows) return;  // whole warps leave together: the shuffles below stay full-warp
  const int lane = static_cast<int>(threadIdx.x % 32);
  const std::uint8_t* wrow = p.w + static_cast<std::size_t>(row) * p.row_bytes;
  float acc[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t) acc[t] = 0.0f;
  if constexpr (T == TensorType::Q4_K || T == TensorType::Q5_K || T == TensorType::Q6_K) {
    const std::int64_t n_sb = p.n_cols / 256;
    for (std::int64_t sb = lane / 8; sb < n_sb; sb += 4) superblock_dot<T, NT>(wrow, sb, lane % 8, p, acc);
  } else {
    const std::int64_t nb = p.n_cols / 32;
    for (std::int64_t b = lane; b < nb; b += 32) block32_dot<T, NT>(wrow, b, p, acc);
  }
  reduce_and_store<NT>(acc, p, row);
}

// Float weights: lane j takes columns j, j + 32, ... (coalesced 4- or 2-byte loads).
template <TensorType T, int NT>
__global__ void __launch_bounds__(kRowsPerBlock * 32) gemv_float_kernel(GemvParams p) {
  const std::int64_t row = static_cast<std::int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
  if (row >= p.n_rows) return;
  const int lane = static_cast<int>(threadIdx.x % 32);
  const std::uint8_t* wrow = p.w + static_cast<std::size_t>(row) * p.row_bytes;
  float acc[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t) acc[t] = 0.0f;
  for (std::int64_t c = lane; c < p.n_cols; c += 32) {
    const float wv = weight_element<T>(wrow, c);
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      if (t >= p.n_tokens) break;
      acc[t] += wv * __ldg(p.x + static_cast<std::int64_t>(t) * p.n_cols + c);
    }
  }
  reduce_and_store<NT>(acc, p, row);
}

bool is_float_type(TensorType t) { return t == TensorType::F32 || t == TensorType::F16 || t == TensorType::BF16; }

std::string check_weight(const DeviceWeight& w, std::int64_t n_tokens, const char* what) {
  const std::string where = std::string(what) + ": ";
  if (w.n_mats != 1)
    return where + "one matrix expected (pass DeviceWeight::matrix(m)), got n_mats " + std::to_string(w.n_mats);
  if (n_tokens < 1 || n_tokens > kMaxGemvTokens)
    return where + "n_tokens must be in [1, " + std::to_string(kMaxGemvTokens) + "], got " + std::to_string(n_tokens);
  if (!w.data) return where + "null weight pointer";
  if (std::string why = matmul_supports(w.type, w.n_cols); !why.empty()) return where + why;
  const auto rb = tensor_row_bytes(w.type, static_cast<std::uint64_t>(w.n_cols));
  if (!rb || *rb != w.row_bytes)
    return where + "row_bytes " + std::to_string(w.row_bytes) + " does not match " + std::to_string(w.n_cols) +
           " elements of " + std::string(tensor_type_traits(w.type).name);
  if (w.n_rows < 1 || (w.n_rows + kRowsPerBlock - 1) / kRowsPerBlock > 0x7fffffffLL)
    return where + "n_rows must be in [1, 2^33), got " + std::to_string(w.n_rows);
  // Q4_K/Q5_K lanes read 16-byte vectors (their rows are multiples of 16 bytes, so every row and
  // every expert matrix of an aligned tensor stays aligned); the others read 16-bit words, F32 floats.
  const std::uintptr_t align = (w.type == TensorType::Q4_K || w.type == TensorType::Q5_K) ? 16
                               : (w.type == TensorType::F32)                              ? 4
                                                                                          : 2;
  if (reinterpret_cast<std::uintptr_t>(w.data) % align != 0)
    return where + std::string(tensor_type_traits(w.type).name) + " weight data must be " + std::to_string(align) +
           "-byte aligned";
  return {};
}

unsigned row_grid(std::int64_t n_rows) { return static_cast<unsigned>((n_rows + kRowsPerBlock - 1) / kRowsPerBlock); }

// The token-count bucket: the smallest of 1, 2, 4, 8, 16 that holds n_tokens.
#define RAPIDE_GEMV_BUCKETS(KERNEL, T, P, GRID, STREAM)                            \
  do {                                                                             \
    constexpr int threads_ = kRowsPerBlock * 32;                                   \
    if ((P).n_tokens <= 1)                                                         \
      KERNEL<T, 1><<<GRID, threads_, 0, STREAM>>>(P);                              \
    else if ((P).n_tokens <= 2)                                                    \
      KERNEL<T, 2><<<GRID, threads_, 0, STREAM>>>(P);                              \
    else if ((P).n_tokens <= 4)                                                    \
      KERNEL<T, 4><<<GRID, threads_, 0, STREAM>>>(P);                              \
    else if ((P).n_tokens <= 8)                                                    \
      KERNEL<T, 8><<<GRID, threads_, 0, STREAM>>>(P);                              \
    else                                                                           \
      KERNEL<T, 16><<<GRID, threads_, 0, STREAM>>>(P);                             \
  } while (0)

}  // namespace

std::string gemv_a8(const DeviceWeight& w, const std::int8_t* q, const float2* ds, std::int64_t n_tokens, float* y,
                    cudaStream_t stream) {
  if (std::string e = check_weight(w, n_tokens, "gemv_a8"); !e.empty()) return e;
  if (is_float_type(w.type)) return "gemv_a8: float weights go through gemv_float";
  if (!q || !ds || !y) return "gemv_a8: null activation or output pointer";
  const GemvParams p{w.data, w.row_bytes, w.n_rows, w.n_cols, static_cast<int>(n_tokens), q, ds, nullptr, y};
  const unsigned grid = row_grid(w.n_rows);
  switch (w.type) {
    case TensorType::Q4_0: RAPIDE_GEMV_BUCKETS(gemv_a8_kernel, TensorType::Q4_0, p, grid, stream); break;
    case TensorType::Q4_1: RAPIDE_GEMV_BUCKETS(gemv_a8_kernel, TensorType::Q4_1, p, grid, stream); break;
    case TensorType::Q5_0: RAPIDE_GEMV_BUCKETS(gemv_a8_kernel, TensorType::Q5_0, p, grid, stream); break;
    case TensorType::Q5_1: RAPIDE_GEMV_BUCKETS(gemv_a8_kernel, TensorType::Q5_1, p, grid, stream); break;
    case TensorType::Q8_0: RAPIDE_GEMV_BUCKETS(gemv_a8_kernel, TensorType::Q8_0, p, grid, stream); break;
    case TensorType::Q4_K: RAPIDE_GEMV_BUCKETS(gemv_a8_kernel, TensorType::Q4_K, p, grid, stream); break;
    case TensorType::Q5_K: RAPIDE_GEMV_BUCKETS(gemv_a8_kernel, TensorType::Q5_K, p, grid, stream); break;
    case TensorType::Q6_K: RAPIDE_GEMV_BUCKETS(gemv_a8_kernel, TensorType::Q6_K, p, grid, stream); break;
    default: return "gemv_a8: no kernel for " + std::string(tensor_type_traits(w.type).name);
  }
  return launch_error("gemv_a8_kernel");
}

std::string gemv_float(const DeviceWeight& w, const float* x, std::int64_t n_tokens, float* y, cudaStream_t stream) {
  if (std::string e = check_weight(w, n_tokens, "gemv_float"); !e.empty()) return e;
  if (!x || !y) return "gemv_float: null activation or output pointer";
  const GemvParams p{w.data, w.row_bytes, w.n_rows, w.n_cols, static_cast<int>(n_tokens), nullptr, nullptr, x, y};
  const unsigned grid = row_grid(w.n_rows);
  switch (w.type) {
    case TensorType::F32: RAPIDE_GEMV_BUCKETS(gemv_float_kernel, TensorType::F32, p, grid, stream); break;
    case TensorType::F16: RAPIDE_GEMV_BUCKETS(gemv_float_kernel, TensorType::F16, p, grid, stream); break;
    case TensorType::BF16: RAPIDE_GEMV_BUCKETS(gemv_float_kernel, TensorType::BF16, p, grid, stream); break;
    default: return "gemv_float: " + std::string(tensor_type_traits(w.type).name) + " is not a float type";
  }
  return launch_error("gemv_float_kernel");
}

#undef RAPIDE_GEMV_BUCKETS

}  // namespace rapide::inference::cuda
