// RMSNorm over rows: out[r, :] = x[r, :] * rms_norm_scale(sum(x[r, :]^2)) * weight[:] (weight
// optional: null means 1). Layout: row-major F32 with explicit row strides; in place when out == x.
// Work split: one block of 256 threads per row (grid-stride over rows past 65535*32); each thread
// accumulates a strided partial sum of squares, a warp shuffle then a shared-memory step reduce
// it, and every thread writes its strided share of the output (after the reduction, so in-place
// is safe).
#include "rms_norm.cuh"

#include "cuda_util.cuh"
#include "rapide/inference/rms_norm_math.h"

#include <cuda_runtime.h>

#include <memory>

namespace rapide::inference::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void rms_norm_f32_kernel(RmsNormParams p) {
  __shared__ float warp_sums[kThreads / 32];
  for (std::int64_t row = blockIdx.x; row < p.n_rows; row += gridDim.x) {
    const float* x = p.x + row * p.x_stride;
    float* out = p.out + row * p.out_stride;

    float sum = 0.0f;
    for (std::int64_t c = threadIdx.x; c < p.n_cols; c += blockDim.x) sum += x[c] * x[c];
    for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);

    const int warp = threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (lane == 0) warp_sums[warp] = sum;
    __syncthreads();
    if (warp == 0) {
      sum = lane < kThreads / 32 ? warp_sums[lane] : 0.0f;
      for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
      if (lane == 0) warp_sums[0] = sum;
    }
    __syncthreads();
    const float scale = rms_norm_scale(warp_sums[0], p.n_cols, p.eps);
    if (p.weight)
      for (std::int64_t c = threadIdx.x; c < p.n_cols; c += blockDim.x) out[c] = x[c] * scale * p.weight[c];
    else
      for (std::int64_t c = threadIdx.x; c < p.n_cols; c += blockDim.x) out[c] = x[c] * scale;
    __syncthreads();  // warp_sums is reused by the next row
  }
}

using DeviceFloats = DevicePtr<float>;

}  // namespace

std::string rms_norm_f32_async(const RmsNormParams& p, cudaStream_t stream) {
  if (p.n_rows < 0 || p.n_cols <= 0) return "rms_norm_f32: n_rows must be >= 0 and n_cols > 0";
  if (p.x_stride < p.n_cols || p.out_stride < p.n_cols) return "rms_norm_f32: row strides must be >= n_cols";
  if (p.n_rows == 0) return {};
  if (!p.x || !p.out) return "rms_norm_f32: null device pointer";
  const unsigned blocks = p.n_rows < (1 << 21) ? static_cast<unsigned>(p.n_rows) : (1u << 21);
  rms_norm_f32_kernel<<<blocks, kThreads, 0, stream>>>(p);
  return launch_error("rms_norm_f32 kernel");
}

std::string rms_norm_f32(const RmsNormParams& p) { return rms_norm_f32_async(p, nullptr); }

std::string rms_norm_f32_host(const std::vector<float>& x, const std::vector<float>& weight,
                              std::int64_t n_rows, std::int64_t n_cols, float eps,
                              std::vector<float>* out) {
  if (static_cast<std::int64_t>(x.size()) != n_rows * n_cols || static_cast<std::int64_t>(weight.size()) != n_cols)
    return "rms_norm_f32_host: x must hold n_rows*n_cols values and weight n_cols";
  if (n_rows < 0 || n_cols <= 0) return "rms_norm_f32_host: n_rows must be >= 0 and n_cols > 0";
  DeviceFloats dx, dw, dout;
  for (auto [buf, n] : {std::pair{&dx, x.size()}, {&dw, weight.size()}, {&dout, x.size()}})
    if (std::string e = device_alloc(n, buf, "rms_norm_f32_host: cudaMalloc"); !e.empty()) return e;
  if (std::string e = cuda_error("rms_norm_f32_host: copy x",
                                 cudaMemcpy(dx.get(), x.data(), x.size() * sizeof(float), cudaMemcpyHostToDevice));
      !e.empty())
    return e;
  if (std::string e = cuda_error("rms_norm_f32_host: copy weight", cudaMemcpy(dw.get(), weight.data(), weight.size() * sizeof(float),
                                                                             cudaMemcpyHostToDevice));
      !e.empty())
    return e;
  RmsNormParams p{dx.get(), dw.get(), dout.get(), n_rows, n_cols, n_cols, n_cols, eps};
  if (std::string e = rms_norm_f32(p); !e.empty()) return e;
  out->resize(x.size());
  return cuda_error("rms_norm_f32_host: copy out",
                    cudaMemcpy(out->data(), dout.get(), x.size() * sizeof(float), cudaMemcpyDeviceToHost));
}

}  // namespace rapide::inference::cuda
