// The stream form of the RMSNorm launcher (rms_norm.h has the plain C++ entry points).
#pragma once

#include "rapide/inference/cuda/rms_norm.h"

#include <cuda_runtime.h>

#include <string>

namespace rapide::inference::cuda {

// As rms_norm_f32(), on `stream`. p.weight may be null (no scale). In place when p.out == p.x
// with equal strides.
std::string rms_norm_f32_async(const RmsNormParams& p, cudaStream_t stream);

}  // namespace rapide::inference::cuda
