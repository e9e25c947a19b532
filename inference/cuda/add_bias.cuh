// y[r, i] += bias[i] for r < n_rows, i < row_len (see add_bias.cu).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

namespace rapide::inference::cuda {

struct AddBiasParams {
  float* y = nullptr;           // device [n_rows, row_len]
  const float* bias = nullptr;  // device [row_len]
  std::int64_t n_rows = 0;
  std::int64_t row_len = 0;
};

std::string add_bias(const AddBiasParams& p, cudaStream_t stream);

}  // namespace rapide::inference::cuda
