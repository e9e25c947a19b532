// y[rows[i], :] += scales[i] * src[i, :] for i < n_rows (see scatter_add_rows.cu).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

namespace rapide::inference::cuda {

struct ScatterAddRowsParams {
  float* y = nullptr;                  // device [*, row_len]
  const float* src = nullptr;          // device [n_rows, row_len]
  const std::int32_t* rows = nullptr;  // device [n_rows]: distinct rows of y (the MoE routing gives
                                       // each token an expert at most once)
  const float* scales = nullptr;       // device [n_rows]
  std::int64_t n_rows = 0;
  std::int64_t row_len = 0;
};

std::string scatter_add_rows(const ScatterAddRowsParams& p, cudaStream_t stream);

}  // namespace rapide::inference::cuda
