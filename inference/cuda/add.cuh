// y[i] += x[i] for i < n (see add.cu).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

namespace rapide::inference::cuda {

struct AddParams {
  float* y = nullptr;        // device [n]
  const float* x = nullptr;  // device [n]; may equal y
  std::int64_t n = 0;
};

std::string add(const AddParams& p, cudaStream_t stream);

}  // namespace rapide::inference::cuda
