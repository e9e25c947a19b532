// out[i, :] = x[rows[i], :] for i < n_rows (see gather_rows.cu).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

namespace rapide::inference::cuda {

struct GatherRowsParams {
  const float* x = nullptr;            // device [*, row_len]
  const std::int32_t* rows = nullptr;  // device [n_rows], each a valid row of x (checked by the caller)
  float* out = nullptr;                // device [n_rows, row_len]; must not overlap the rows read
  std::int64_t n_rows = 0;
  std::int64_t row_len = 0;
};

std::string gather_rows(const GatherRowsParams& p, cudaStream_t stream);

}  // namespace rapide::inference::cuda
