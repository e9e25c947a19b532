// measure_copy_bandwidth (device.h): times device-to-device cudaMemcpyAsync between two buffers
// with CUDA events on a private stream and reports 2 * bytes / time of the median run.
#include "rapide/inference/cuda/device.h"

#include "cuda_util.cuh"

#include <algorithm>
#include <vector>

namespace rapide::inference::cuda {
namespace {

struct EventDestroy {
  void operator()(cudaEvent_t e) const { cudaEventDestroy(e); }
};
struct StreamDestroy {
  void operator()(cudaStream_t s) const { cudaStreamDestroy(s); }
};
using EventPtr = std::unique_ptr<CUevent_st, EventDestroy>;
using StreamPtr = std::unique_ptr<CUstream_st, StreamDestroy>;

}  // namespace

CopyBandwidth measure_copy_bandwidth(int index, std::size_t bytes) {
  CopyBandwidth r;
  auto fail = [&](const std::string& e) {
    r.error = "measure_copy_bandwidth(cuda:" + std::to_string(index) + "): " + e;
    return r;
  };
  if (bytes < (1u << 20)) return fail("copy size must be at least 1 MiB");
  int count = 0;
  if (cudaError_t err = cudaGetDeviceCount(&count); err != cudaSuccess) {
    cudaGetLastError();
    return fail(cuda_error("cudaGetDeviceCount", err));
  }
  if (index < 0 || index >= count) return fail("no such device (" + std::to_string(count) + " present)");
  if (std::string e = cuda_error("cudaSetDevice", cudaSetDevice(index)); !e.empty()) return fail(e);
  DevicePtr<std::uint8_t> a, b;
  if (std::string e = device_alloc(bytes, &a, "cudaMalloc"); !e.empty()) return fail(e);
  if (std::string e = device_alloc(bytes, &b, "cudaMalloc"); !e.empty()) return fail(e);
  if (std::string e = cuda_error("cudaMemset", cudaMemset(a.get(), 1, bytes)); !e.empty()) return fail(e);
  cudaStream_t s = nullptr;
  if (std::string e = cuda_error("cudaStreamCreate", cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking)); !e.empty())
    return fail(e);
  StreamPtr stream(s);
  cudaEvent_t e0 = nullptr, e1 = nullptr;
  if (std::string e = cuda_error("cudaEventCreate", cudaEventCreate(&e0)); !e.empty()) return fail(e);
  EventPtr start(e0);
  if (std::string e = cuda_error("cudaEventCreate", cudaEventCreate(&e1)); !e.empty()) return fail(e);
  EventPtr stop(e1);
  // One untimed copy (first-touch, clocks up), then the timed ones.
  if (std::string e = cuda_error("cudaMemcpyAsync", cudaMemcpyAsync(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice, s));
      !e.empty())
    return fail(e);
  std::vector<float> ms;
  for (int i = 0; i < 7; ++i) {
    std::string e = cuda_error("cudaEventRecord", cudaEventRecord(start.get(), s));
    if (e.empty()) e = cuda_error("cudaMemcpyAsync", cudaMemcpyAsync(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice, s));
    if (e.empty()) e = cuda_error("cudaEventRecord", cudaEventRecord(stop.get(), s));
    if (e.empty()) e = cuda_error("cudaEventSynchronize", cudaEventSynchronize(stop.get()));
    float t = 0;
    if (e.empty()) e = cuda_error("cudaEventElapsedTime", cudaEventElapsedTime(&t, start.get(), stop.get()));
    if (!e.empty()) return fail(e);
    ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  const double t = ms[ms.size() / 2] * 1e-3;
  if (t <= 0) return fail("timer reported zero time");
  r.gbps = 2.0 * static_cast<double>(bytes) / t / 1e9;
  return r;
}

}  // namespace rapide::inference::cuda
