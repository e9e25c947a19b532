// Small helpers shared by the CUDA backend's files: error text, RAII device/pinned memory and
// launch-size arithmetic. Internal to rapide_inference_cuda (not a public header).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace rapide::inference::cuda {

// "what: <CUDA error name>: <description>", or empty for cudaSuccess.
inline std::string cuda_error(const char* what, cudaError_t err) {
  if (err == cudaSuccess) return {};
  return std::string(what) + ": " + cudaGetErrorName(err) + ": " + cudaGetErrorString(err);
}

// After a launch: the launch error (bad configuration, no kernel image for this GPU...).
inline std::string launch_error(const char* kernel) { return cuda_error(kernel, cudaGetLastError()); }

struct DeviceFree {
  void operator()(void* p) const { cudaFree(p); }
};
struct PinnedFree {
  void operator()(void* p) const { cudaFreeHost(p); }
};
template <class T>
using DevicePtr = std::unique_ptr<T, DeviceFree>;
template <class T>
using PinnedPtr = std::unique_ptr<T, PinnedFree>;

// n elements of T in device memory (at least one, so a pointer is always valid).
template <class T>
std::string device_alloc(std::size_t n, DevicePtr<T>* out, const char* what) {
  void* p = nullptr;
  const std::size_t bytes = (n > 0 ? n : 1) * sizeof(T);
  if (cudaError_t err = cudaMalloc(&p, bytes); err != cudaSuccess) {
    cudaGetLastError();  // out of memory is not sticky: clear it
    return cuda_error(what, err) + " (" + std::to_string(bytes >> 20) + " MiB asked)";
  }
  out->reset(static_cast<T*>(p));
  return {};
}

template <class T>
std::string pinned_alloc(std::size_t n, PinnedPtr<T>* out, const char* what) {
  void* p = nullptr;
  const std::size_t bytes = (n > 0 ? n : 1) * sizeof(T);
  if (cudaError_t err = cudaMallocHost(&p, bytes); err != cudaSuccess) {
    cudaGetLastError();
    return cuda_error(what, err) + " (" + std::to_string(bytes >> 20) + " MiB of pinned host memory asked)";
  }
  out->reset(static_cast<T*>(p));
  return {};
}

// Blocks of `threads` covering n items, capped for grid-stride loops (kernels loop over the rest).
inline unsigned grid_for(std::int64_t n, int threads, unsigned max_blocks = 65535u * 16u) {
  const std::int64_t b = (n + threads - 1) / threads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > static_cast<std::int64_t>(max_blocks) ? max_blocks : b));
}

}  // namespace rapide::inference::cuda
