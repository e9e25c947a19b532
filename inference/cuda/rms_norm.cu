// RMSNorm over rows: out[r, :] = x[r, :] * rms_norm_scale(sum(x[r, :]^2)) * weight[:].
// Layout: row-major F32 with explicit row strides. Work split: one block of 256 threads per row;
// each thread accumulates a strided partial sum of squares, a warp shuffle then a shared-memory
// step reduce it, and every thread writes its strided share of the output.
#include "rapide/inference/cuda/rms_norm.h"
#include "rapide/inference/rms_norm_math.h"

#include <cuda_runtime.h>

#include <memory>

namespace rapide::inference::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void rms_norm_f32_kernel(RmsNormParams p) {
  const std::int64_t row = blockIdx.x;
  const float* x = p.x + row * p.x_stride;
  float* out = p.out + row * p.out_stride;

  float sum = 0.0f;
  for (std::int64_t c = threadIdx.x; c < p.n_cols; c += blockDim.x) sum += x[c] * x[c];
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);

  __shared__ float warp_sums[kThreads / 32];
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
  for (std::int64_t c = threadIdx.x; c < p.n_cols; c += blockDim.x) out[c] = x[c] * scale * p.weight[c];
}

struct DeviceFree {
  void operator()(float* p) const { cudaFree(p); }
};
using DeviceFloats = std::unique_ptr<float, DeviceFree>;

std::string alloc(std::size_t n, DeviceFloats* out) {
  float* p = nullptr;
  cudaError_t err = cudaMalloc(&p, n * sizeof(float) + 1);
  if (err != cudaSuccess) return std::string("cudaMalloc: ") + cudaGetErrorString(err);
  out->reset(p);
  return {};
}

}  // namespace

std::string rms_norm_f32(const RmsNormParams& p) {
  if (p.n_rows < 0 || p.n_cols <= 0) return "rms_norm_f32: n_rows must be >= 0 and n_cols > 0";
  if (p.x_stride < p.n_cols || p.out_stride < p.n_cols) return "rms_norm_f32: row strides must be >= n_cols";
  if (p.n_rows == 0) return {};
  if (p.n_rows > 0x7fffffff) return "rms_norm_f32: more rows than one grid dimension holds";
  rms_norm_f32_kernel<<<static_cast<unsigned>(p.n_rows), kThreads>>>(p);
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) return std::string("rms_norm_f32 launch: ") + cudaGetErrorString(err);
  return {};
}

std::string rms_norm_f32_host(const std::vector<float>& x, const std::vector<float>& weight,
                              std::int64_t n_rows, std::int64_t n_cols, float eps,
                              std::vector<float>* out) {
  if (static_cast<std::int64_t>(x.size()) != n_rows * n_cols || static_cast<std::int64_t>(weight.size()) != n_cols)
    return "rms_norm_f32_host: x must hold n_rows*n_cols values and weight n_cols";
  DeviceFloats dx, dw, dout;
  for (auto [buf, n] : {std::pair{&dx, x.size()}, {&dw, weight.size()}, {&dout, x.size()}})
    if (std::string e = alloc(n, buf); !e.empty()) return e;
  cudaMemcpy(dx.get(), x.data(), x.size() * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemcpy(dw.get(), weight.data(), weight.size() * sizeof(float), cudaMemcpyHostToDevice);
  RmsNormParams p{dx.get(), dw.get(), dout.get(), n_rows, n_cols, n_cols, n_cols, eps};
  if (std::string e = rms_norm_f32(p); !e.empty()) return e;
  out->resize(x.size());
  cudaError_t err = cudaMemcpy(out->data(), dout.get(), x.size() * sizeof(float), cudaMemcpyDeviceToHost);
  if (err != cudaSuccess) return std::string("cudaMemcpy: ") + cudaGetErrorString(err);
  return {};
}

}  // namespace rapide::inference::cuda
