#include "rapide/inference/cuda/device.h"
#include "rapide/inference/cuda/rms_norm.h"
#include "rapide/inference/rms_norm_math.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace rapide::inference::cuda {
namespace {

#define RAPIDE_REQUIRE_CUDA_DEVICE()                                                     \
  do {                                                                                  \
    const auto q = query_devices();                                                     \
    if (q.devices.empty()) GTEST_SKIP() << "no CUDA device present: " << q.why_none;    \
  } while (0)

TEST(CudaDevice, QueryNeverFailsAndLinksCublas) {
  const DeviceQuery q = query_devices();
  EXPECT_GT(q.cublas_version, 0) << "cuBLAS should report its version even without a GPU";
  if (q.devices.empty()) {
    EXPECT_FALSE(q.why_none.empty());
  } else {
    EXPECT_GT(q.devices[0].total_memory_bytes, 0u);
    EXPECT_GT(q.devices[0].peak_bandwidth_gbps(), 0.0);
  }
}

std::vector<float> cpu_rms_norm(const std::vector<float>& x, const std::vector<float>& w, int rows, int cols, float eps) {
  std::vector<float> out(x.size());
  for (int r = 0; r < rows; ++r) {
    float sum = 0;
    for (int c = 0; c < cols; ++c) sum += x[r * cols + c] * x[r * cols + c];
    const float scale = rms_norm_scale(sum, cols, eps);
    for (int c = 0; c < cols; ++c) out[r * cols + c] = x[r * cols + c] * scale * w[c];
  }
  return out;
}

TEST(CudaRmsNorm, MatchesCpuOnOddSizes) {
  RAPIDE_REQUIRE_CUDA_DEVICE();
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 2.0f);
  for (auto [rows, cols] : {std::pair{1, 1}, {3, 31}, {7, 257}, {16, 1536}, {2, 4099}}) {
    std::vector<float> x(rows * cols), w(cols);
    for (float& v : x) v = dist(rng);
    for (float& v : w) v = dist(rng);
    std::vector<float> got;
    ASSERT_EQ(rms_norm_f32_host(x, w, rows, cols, 1e-6f, &got), "");
    const auto want = cpu_rms_norm(x, w, rows, cols, 1e-6f);
    double err = 0, norm = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
      err += (got[i] - want[i]) * (got[i] - want[i]);
      norm += want[i] * want[i];
    }
    EXPECT_LT(std::sqrt(err / (norm + 1e-30)), 1e-5) << rows << "x" << cols;
  }
}

TEST(CudaRmsNorm, RejectsBadShapes) {
  std::vector<float> out;
  EXPECT_NE(rms_norm_f32_host({1, 2, 3}, {1, 1}, 1, 3, 1e-6f, &out), "");
  RmsNormParams p;
  p.n_rows = 1;
  p.n_cols = 0;
  EXPECT_NE(rms_norm_f32(p), "");
}

}  // namespace
}  // namespace rapide::inference::cuda
