// Host entry points for the RMSNorm kernel (see rms_norm.cu). The device-pointer form runs on
// the given stream; the host-vector form copies in and out and is meant for tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rapide::inference::cuda {

struct RmsNormParams {
  const float* x = nullptr;       // device [n_rows, n_cols], row stride x_stride floats
  const float* weight = nullptr;  // device [n_cols]
  float* out = nullptr;           // device [n_rows, n_cols], row stride out_stride floats
  std::int64_t n_rows = 0;
  std::int64_t n_cols = 0;
  std::int64_t x_stride = 0;
  std::int64_t out_stride = 0;
  float eps = 1e-6f;
};

// Launches on the default stream. Returns an empty string on success, else the reason.
std::string rms_norm_f32(const RmsNormParams& p);

// Copies x [n_rows * n_cols] and weight [n_cols] to the device, runs, copies back into *out.
// Returns an empty string on success, else the reason (no device, launch failure...).
std::string rms_norm_f32_host(const std::vector<float>& x, const std::vector<float>& weight,
                              std::int64_t n_rows, std::int64_t n_cols, float eps,
                              std::vector<float>* out);

}  // namespace rapide::inference::cuda
