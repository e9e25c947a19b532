// kv_store: k_cache[layer, pos0 + t, i] = f16(k[t, i]) and the same for V, with the shared
// float -> F16 conversion of quant/float16.h (round to nearest even, bit-identical to the CPU
// backend's cache).
// Work split: one thread per element of the concatenated [n_tokens, k_width + v_width] batch,
// grid-stride with 64-bit indices.
#include "cuda_util.cuh"
#include "kv_store.cuh"

#include "rapide/inference/quant/float16.h"

namespace rapide::inference::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void kv_store_kernel(KvStoreParams p) {
  const std::int64_t width = static_cast<std::int64_t>(p.k_width) + p.v_width;
  const std::int64_t n = p.n_tokens * width;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t t = i / width, c = i % width;
    const std::int64_t row = static_cast<std::int64_t>(p.layer) * p.capacity + p.pos0 + t;
    if (c < p.k_width)
      p.k_cache[row * p.k_width + c] = quant::f32_to_f16(p.k[t * p.k_width + c]);
    else
      p.v_cache[row * p.v_width + (c - p.k_width)] = quant::f32_to_f16(p.v[t * p.v_width + (c - p.k_width)]);
  }
}

}  // namespace

std::string kv_store(const KvStoreParams& p, cudaStream_t stream) {
  if (p.n_tokens < 0 || p.k_width < 0 || p.v_width < 0) return "kv_store: n_tokens and widths must be >= 0";
  if (p.pos0 < 0 || p.pos0 + p.n_tokens > p.capacity)
    return "kv_store: positions " + std::to_string(p.pos0) + ".." + std::to_string(p.pos0 + p.n_tokens - 1) +
           " outside the cache capacity " + std::to_string(p.capacity);
  if (p.layer < 0) return "kv_store: negative layer";
  if (p.n_tokens == 0 || p.k_width + p.v_width == 0) return {};
  if (!p.k_cache || !p.v_cache || !p.k || !p.v) return "kv_store: null device pointer";
  kv_store_kernel<<<grid_for(p.n_tokens * (static_cast<std::int64_t>(p.k_width) + p.v_width), kThreads), kThreads, 0,
                    stream>>>(p);
  return launch_error("kv_store kernel");
}

}  // namespace rapide::inference::cuda
