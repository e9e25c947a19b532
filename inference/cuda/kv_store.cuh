// Writes a batch's K and V rows into the F16 KV cache (see kv_store.cu).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

namespace rapide::inference::cuda {

// Cache layout (the CPU backend's): k_cache[((layer * capacity) + pos) * k_width + i], F16 bits;
// same for v_cache with v_width. Token t of the batch goes to position pos0 + t.
struct KvStoreParams {
  std::uint16_t* k_cache = nullptr;  // device
  std::uint16_t* v_cache = nullptr;  // device
  const float* k = nullptr;          // device [n_tokens, k_width]
  const float* v = nullptr;          // device [n_tokens, v_width]
  std::int32_t layer = 0;
  std::int32_t capacity = 0;
  std::int32_t pos0 = 0;
  std::int64_t n_tokens = 0;
  std::int32_t k_width = 0;
  std::int32_t v_width = 0;
};

// Checks 0 <= pos0, pos0 + n_tokens <= capacity (the message names the violated bound).
std::string kv_store(const KvStoreParams& p, cudaStream_t stream);

}  // namespace rapide::inference::cuda
