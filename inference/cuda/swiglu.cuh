// out[i] = silu(gate[i]) * up[i] for i < n (see swiglu.cu).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

namespace rapide::inference::cuda {

struct SwigluParams {
  const float* gate = nullptr;  // device [n]
  const float* up = nullptr;    // device [n]
  float* out = nullptr;         // device [n]; may alias gate or up
  std::int64_t n = 0;
};

std::string swiglu(const SwigluParams& p, cudaStream_t stream);

}  // namespace rapide::inference::cuda
