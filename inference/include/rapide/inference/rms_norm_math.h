// RMSNorm maths shared by the CPU and CUDA backends: y = x / sqrt(mean(x^2) + eps) * w.
#pragma once

#include "rapide/inference/hd.h"

#include <cmath>

namespace rapide::inference {

// Scale factor from the sum of squares of a row of n values.
RAPIDE_HD float rms_norm_scale(float sum_squares, long long n, float eps) {
  return 1.0f / sqrtf(sum_squares / static_cast<float>(n) + eps);
}

}  // namespace rapide::inference
