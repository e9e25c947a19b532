// attention: out[t, h, :] = sum_j softmax_j(scale * q[t, h, :] . K[j, g, :]) * V[j, g, :] over the
// keys j a query at position pos = pos0 + t sees: lo(pos) <= j <= pos, lo = 0 or, with a sliding
// window, max(0, pos - window + 1). g = h / (n_head / n_head_kv) (grouped-query attention).
// K and V are the F16 cache rows of one layer ([capacity, n_head_kv * head_dim]), converted with
// quant/float16.h; the softmax is online (softmax_math.h, the same update the CPU backend uses),
// so no score matrix is ever stored.
//
// Two paths, same maths:
//  * decode (n_tokens <= kAttnMaxDecodeTokens): split-K / flash decoding. Grid (n_splits, n_head,
//    n_tokens), 4 warps per block. Split s of a query covers keys [lo + s*kps, lo + (s+1)*kps) and
//    its warps take 32-key chunks in turn; per chunk each lane holds head_dim/32 elements of q and
//    the warp reduces one key's dot product per step (coalesced F16 reads of K), lane j keeps the
//    score of key j, then the chunk's max/exp/sum and the P.V update (lane owns output dims
//    lane, lane+32, ...). Each warp writes its partial state (m, l, acc[head_dim_v]) to scratch
//    [n_tokens, n_head, n_splits * 4, head_dim_v + 2]; a second kernel merges the partials.
//  * prefill: tiled flash attention. Grid (ceil(n_tokens / 16), n_head), 4 warps per block, each
//    warp owning 4 query rows. The block's 16 pre-scaled query rows and 32-key K/V tiles sit in
//    shared memory as floats (K rows padded to head_dim + 1 to spread banks); lane j scores key j
//    of the tile, the warp does the online update, and lanes own output dims for P.V.
// Registers: head_dim/32 and head_dim_v/32 values per lane, up to 8 each (kAttnMaxHeadDim 256).
#include "attention.cuh"
#include "cuda_util.cuh"

#include "rapide/inference/quant/float16.h"
#include "rapide/inference/softmax_math.h"

#include <algorithm>
#include <cmath>

namespace rapide::inference::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kPer = kAttnMaxHeadDim / 32;  // per-lane elements of a head
constexpr int kMaxSplits = 32;
constexpr int kQTile = 16;  // prefill query rows per block (kWarps warps x kRowsPerWarp)
constexpr int kRowsPerWarp = kQTile / kWarps;
constexpr int kKTile = 32;  // prefill keys per shared-memory tile (one per lane)
constexpr unsigned kFull = 0xffffffffu;

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(kFull, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(kFull, v, o));
  return v;
}

__device__ __forceinline__ std::int64_t min64(std::int64_t a, std::int64_t b) { return a < b ? a : b; }

__device__ __forceinline__ std::int32_t first_key(std::int32_t pos, std::int32_t window) {
  return window > 0 ? max(0, pos - window + 1) : 0;
}

struct DecodePlan {
  int n_splits = 1;
  std::int32_t keys_per_split = 1;
};

DecodePlan decode_plan(const AttentionKernelParams& p, int n_sm) {
  const std::int64_t last = static_cast<std::int64_t>(p.pos0) + p.n_tokens;  // keys of the last query
  const std::int64_t max_keys = p.sliding_window > 0 ? std::min<std::int64_t>(p.sliding_window, last) : last;
  const std::int64_t blocks = std::max<std::int64_t>(1, std::int64_t{p.n_head} * p.n_tokens);
  std::int64_t splits = (2 * std::max(n_sm, 1) + blocks - 1) / blocks;
  splits = std::min<std::int64_t>(splits, (max_keys + kThreads - 1) / kThreads);  // >= 128 keys per split
  splits = std::clamp<std::int64_t>(splits, 1, kMaxSplits);
  DecodePlan plan;
  plan.n_splits = static_cast<int>(splits);
  plan.keys_per_split = static_cast<std::int32_t>(std::max<std::int64_t>(1, (max_keys + splits - 1) / splits));
  return plan;
}

__global__ void __launch_bounds__(kThreads) attn_decode_kernel(AttentionKernelParams p, DecodePlan plan) {
  const int split = static_cast<int>(blockIdx.x);
  const int h = static_cast<int>(blockIdx.y);
  const std::int64_t t = blockIdx.z;
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const int g = h / (p.n_head / p.n_head_kv);
  const std::int32_t pos = p.pos0 + static_cast<std::int32_t>(t);
  const std::int32_t lo = first_key(pos, p.sliding_window);
  const std::int64_t s_lo = static_cast<std::int64_t>(lo) + static_cast<std::int64_t>(split) * plan.keys_per_split;
  const std::int64_t s_hi = min64(pos, s_lo + plan.keys_per_split - 1);
  const std::int64_t k_width = static_cast<std::int64_t>(p.n_head_kv) * p.head_dim;
  const std::int64_t v_width = static_cast<std::int64_t>(p.n_head_kv) * p.head_dim_v;

  float qr[kPer], acc[kPer];
  const float* qh = p.q + (t * p.n_head + h) * p.head_dim;
#pragma unroll
  for (int i = 0; i < kPer; ++i) {
    const int d = lane + 32 * i;
    qr[i] = d < p.head_dim ? qh[d] * p.scale : 0.0f;
    acc[i] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  for (std::int64_t c0 = s_lo + 32 * warp; c0 <= s_hi; c0 += 32 * kWarps) {
    const int nk = static_cast<int>(min64(32, s_hi - c0 + 1));
    float my_s = -INFINITY;
    for (int j = 0; j < nk; ++j) {
      const std::uint16_t* kr = p.k + (c0 + j) * k_width + static_cast<std::int64_t>(g) * p.head_dim;
      float part = 0.0f;
#pragma unroll
      for (int i = 0; i < kPer; ++i) {
        const int d = lane + 32 * i;
        if (d < p.head_dim) part += qr[i] * quant::f16_to_f32(kr[d]);
      }
      part = warp_sum(part);
      if (lane == j) my_s = part;
    }
    const float corr = online_softmax_update(&m, warp_max(my_s));
    const float pj = lane < nk ? expf(my_s - m) : 0.0f;
    l = l * corr + warp_sum(pj);
#pragma unroll
    for (int i = 0; i < kPer; ++i) acc[i] *= corr;
    for (int j = 0; j < nk; ++j) {
      const float w = __shfl_sync(kFull, pj, j);
      const std::uint16_t* vr = p.v + (c0 + j) * v_width + static_cast<std::int64_t>(g) * p.head_dim_v;
#pragma unroll
      for (int i = 0; i < kPer; ++i) {
        const int d = lane + 32 * i;
        if (d < p.head_dim_v) acc[i] += w * quant::f16_to_f32(vr[d]);
      }
    }
  }
  const std::int64_t n_parts = static_cast<std::int64_t>(plan.n_splits) * kWarps;
  float* part = p.scratch + ((t * p.n_head + h) * n_parts + static_cast<std::int64_t>(split) * kWarps + warp) *
                                (p.head_dim_v + 2);
  if (lane == 0) {
    part[0] = m;
    part[1] = l;
  }
#pragma unroll
  for (int i = 0; i < kPer; ++i) {
    const int d = lane + 32 * i;
    if (d < p.head_dim_v) part[2 + d] = acc[i];
  }
}

// Merges the n_parts partial states of (token blockIdx.y, head blockIdx.x).
__global__ void __launch_bounds__(kThreads) attn_combine_kernel(AttentionKernelParams p, int n_parts) {
  const int h = static_cast<int>(blockIdx.x);
  const std::int64_t t = blockIdx.y;
  const std::int64_t stride = p.head_dim_v + 2;
  const float* base = p.scratch + (t * p.n_head + h) * n_parts * stride;
  float m_all = -INFINITY;
  for (int s = 0; s < n_parts; ++s) m_all = fmaxf(m_all, base[s * stride]);
  float den = 0.0f;
  for (int s = 0; s < n_parts; ++s) den += online_softmax_merge_weight(base[s * stride], m_all) * base[s * stride + 1];
  const float inv = den > 0.0f ? 1.0f / den : 0.0f;
  float* o = p.out + (t * p.n_head + h) * p.head_dim_v;
  for (int d = static_cast<int>(threadIdx.x); d < p.head_dim_v; d += blockDim.x) {
    float num = 0.0f;
    for (int s = 0; s < n_parts; ++s) num += online_softmax_merge_weight(base[s * stride], m_all) * base[s * stride + 2 + d];
    o[d] = num * inv;
  }
}

std::size_t prefill_smem_bytes(const AttentionKernelParams& p) {
  return sizeof(float) * (static_cast<std::size_t>(kQTile) * p.head_dim + static_cast<std::size_t>(kKTile) * (p.head_dim + 1) +
                          static_cast<std::size_t>(kKTile) * p.head_dim_v);
}

__global__ void __launch_bounds__(kThreads) attn_prefill_kernel(AttentionKernelParams p) {
  extern __shared__ float smem[];
  const int D = p.head_dim, Dv = p.head_dim_v;
  float* qs = smem;                                    // [kQTile][D], pre-scaled
  float* ks = qs + static_cast<std::size_t>(kQTile) * D;  // [kKTile][D + 1]
  float* vs = ks + static_cast<std::size_t>(kKTile) * (D + 1);  // [kKTile][Dv]

  const std::int64_t t0 = static_cast<std::int64_t>(blockIdx.x) * kQTile;
  const int h = static_cast<int>(blockIdx.y);
  const int g = h / (p.n_head / p.n_head_kv);
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const std::int64_t t_end = min64(p.n_tokens, t0 + kQTile);
  const std::int64_t k_width = static_cast<std::int64_t>(p.n_head_kv) * D;
  const std::int64_t v_width = static_cast<std::int64_t>(p.n_head_kv) * Dv;

  for (int idx = static_cast<int>(threadIdx.x); idx < kQTile * D; idx += kThreads) {
    const std::int64_t t = t0 + idx / D;
    qs[idx] = t < p.n_tokens ? p.q[(t * p.n_head + h) * D + idx % D] * p.scale : 0.0f;
  }

  float acc[kRowsPerWarp][kPer], m[kRowsPerWarp], l[kRowsPerWarp];
#pragma unroll
  for (int rr = 0; rr < kRowsPerWarp; ++rr) {
    m[rr] = -INFINITY;
    l[rr] = 0.0f;
#pragma unroll
    for (int i = 0; i < kPer; ++i) acc[rr][i] = 0.0f;
  }

  const std::int32_t k_lo = first_key(p.pos0 + static_cast<std::int32_t>(t0), p.sliding_window);
  const std::int32_t k_hi = p.pos0 + static_cast<std::int32_t>(t_end - 1);
  for (std::int32_t k0 = k_lo; k0 <= k_hi; k0 += kKTile) {
    const int nk = min(kKTile, k_hi - k0 + 1);
    __syncthreads();  // the previous tile is no longer read (and qs is written, first time)
    for (int idx = static_cast<int>(threadIdx.x); idx < kKTile * D; idx += kThreads) {
      const int j = idx / D, d = idx % D;
      ks[j * (D + 1) + d] =
          j < nk ? quant::f16_to_f32(p.k[static_cast<std::int64_t>(k0 + j) * k_width + static_cast<std::int64_t>(g) * D + d])
                 : 0.0f;
    }
    for (int idx = static_cast<int>(threadIdx.x); idx < kKTile * Dv; idx += kThreads) {
      const int j = idx / Dv, d = idx % Dv;
      vs[idx] = j < nk ? quant::f16_to_f32(p.v[static_cast<std::int64_t>(k0 + j) * v_width + static_cast<std::int64_t>(g) * Dv + d])
                       : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int rr = 0; rr < kRowsPerWarp; ++rr) {
      const int r = warp * kRowsPerWarp + rr;
      const std::int64_t t = t0 + r;
      if (t >= p.n_tokens) continue;  // warp-uniform
      const std::int32_t pos = p.pos0 + static_cast<std::int32_t>(t);
      const std::int32_t key = k0 + lane;
      const bool visible = lane < nk && key <= pos && key >= first_key(pos, p.sliding_window);
      float s = -INFINITY;
      if (visible) {
        const float* qrow = qs + r * D;
        const float* krow = ks + lane * (D + 1);
        float dot = 0.0f;
        for (int d = 0; d < D; ++d) dot += qrow[d] * krow[d];
        s = dot;
      }
      const float tile_max = warp_max(s);
      if (tile_max == -INFINITY) continue;  // warp-uniform: this row sees no key of the tile
      const float corr = online_softmax_update(&m[rr], tile_max);
      const float pj = visible ? expf(s - m[rr]) : 0.0f;
      l[rr] = l[rr] * corr + warp_sum(pj);
#pragma unroll
      for (int i = 0; i < kPer; ++i) acc[rr][i] *= corr;
      for (int j = 0; j < nk; ++j) {
        const float w = __shfl_sync(kFull, pj, j);
        const float* vrow = vs + j * Dv;
#pragma unroll
        for (int i = 0; i < kPer; ++i) {
          const int d = lane + 32 * i;
          if (d < Dv) acc[rr][i] += w * vrow[d];
        }
      }
    }
  }
#pragma unroll
  for (int rr = 0; rr < kRowsPerWarp; ++rr) {
    const std::int64_t t = t0 + warp * kRowsPerWarp + rr;
    if (t >= p.n_tokens) continue;
    const float inv = l[rr] > 0.0f ? 1.0f / l[rr] : 0.0f;
    float* o = p.out + (t * p.n_head + h) * Dv;
#pragma unroll
    for (int i = 0; i < kPer; ++i) {
      const int d = lane + 32 * i;
      if (d < Dv) o[d] = acc[rr][i] * inv;
    }
  }
}

std::string validate(const AttentionKernelParams& p) {
  const auto n = [](long long v) { return std::to_string(v); };
  if (p.n_tokens < 0) return "attention: n_tokens must be >= 0, got " + n(p.n_tokens);
  if (p.n_head <= 0 || p.n_head_kv <= 0 || p.n_head % p.n_head_kv != 0)
    return "attention: n_head (" + n(p.n_head) + ") must be a positive multiple of n_head_kv (" + n(p.n_head_kv) + ")";
  if (p.n_head > 65535) return "attention: n_head " + n(p.n_head) + " exceeds the grid limit 65535";
  if (p.head_dim <= 0 || p.head_dim > kAttnMaxHeadDim || p.head_dim_v <= 0 || p.head_dim_v > kAttnMaxHeadDim)
    return "attention: head_dim (" + n(p.head_dim) + ") and head_dim_v (" + n(p.head_dim_v) + ") must be in [1, " +
           n(kAttnMaxHeadDim) + "] for the CUDA kernels";
  if (p.pos0 < 0 || static_cast<std::int64_t>(p.pos0) + p.n_tokens > p.capacity)
    return "attention: query positions " + n(p.pos0) + ".." + n(p.pos0 + p.n_tokens - 1) + " outside the cache capacity " +
           n(p.capacity);
  if (p.sliding_window < 0) return "attention: sliding_window must be >= 0";
  return {};
}

}  // namespace

std::size_t attention_scratch_floats(const AttentionKernelParams& p, int n_sm) {
  if (p.n_tokens <= 0 || p.n_tokens > kAttnMaxDecodeTokens || p.n_head <= 0) return 0;
  const DecodePlan plan = decode_plan(p, n_sm);
  return static_cast<std::size_t>(p.n_tokens) * static_cast<std::size_t>(p.n_head) *
         static_cast<std::size_t>(plan.n_splits) * kWarps * static_cast<std::size_t>(p.head_dim_v + 2);
}

std::string attention(const AttentionKernelParams& p, int n_sm, cudaStream_t stream) {
  if (std::string e = validate(p); !e.empty()) return e;
  if (p.n_tokens == 0) return {};
  if (!p.q || !p.k || !p.v || !p.out) return "attention: null device pointer";
  if (p.n_tokens <= kAttnMaxDecodeTokens) {
    const std::size_t need = attention_scratch_floats(p, n_sm);
    if (!p.scratch || p.scratch_floats < need)
      return "attention: split-K scratch of " + std::to_string(p.scratch_floats) + " floats, needs " + std::to_string(need);
    const DecodePlan plan = decode_plan(p, n_sm);
    const dim3 grid(static_cast<unsigned>(plan.n_splits), static_cast<unsigned>(p.n_head), static_cast<unsigned>(p.n_tokens));
    attn_decode_kernel<<<grid, kThreads, 0, stream>>>(p, plan);
    if (std::string e = launch_error("attention decode kernel"); !e.empty()) return e;
    const dim3 grid2(static_cast<unsigned>(p.n_head), static_cast<unsigned>(p.n_tokens));
    attn_combine_kernel<<<grid2, kThreads, 0, stream>>>(p, plan.n_splits * kWarps);
    return launch_error("attention combine kernel");
  }
  const std::size_t smem = prefill_smem_bytes(p);
  if (smem > 48 * 1024) {
    if (std::string e = cuda_error("attention prefill: cudaFuncSetAttribute(max dynamic shared memory)",
                                   cudaFuncSetAttribute(attn_prefill_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                        static_cast<int>(smem)));
        !e.empty())
      return e + " (" + std::to_string(smem) + " bytes for head_dim " + std::to_string(p.head_dim) + ")";
  }
  const std::int64_t tiles = (p.n_tokens + kQTile - 1) / kQTile;
  if (tiles > 0x7fffffff) return "attention: too many query tiles for one grid";
  const dim3 grid(static_cast<unsigned>(tiles), static_cast<unsigned>(p.n_head));
  attn_prefill_kernel<<<grid, kThreads, smem, stream>>>(p);
  return launch_error("attention prefill kernel");
}

}  // namespace rapide::inference::cuda
