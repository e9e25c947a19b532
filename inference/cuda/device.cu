// Device discovery: counts devices, reads their properties, reports the linked cuBLAS version.
#include "rapide/inference/cuda/device.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>

namespace rapide::inference::cuda {

DeviceQuery query_devices() {
  DeviceQuery q;
  int version = 0;
  if (cublasGetProperty(MAJOR_VERSION, &version) == CUBLAS_STATUS_SUCCESS) {
    int minor = 0;
    cublasGetProperty(MINOR_VERSION, &minor);
    q.cublas_version = version * 100 + minor;
  }
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    q.why_none = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(err);
    cudaGetLastError();  // clear the sticky error so later calls start clean
    return q;
  }
  if (count == 0) {
    q.why_none = "the CUDA driver reports no devices";
    return q;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    DeviceInfo d;
    d.index = i;
    d.name = prop.name;
    d.total_memory_bytes = prop.totalGlobalMem;
    d.sm_major = prop.major;
    d.sm_minor = prop.minor;
    int bus = 0;
    int clock = 0;
    cudaDeviceGetAttribute(&bus, cudaDevAttrGlobalMemoryBusWidth, i);
    cudaDeviceGetAttribute(&clock, cudaDevAttrMemoryClockRate, i);
    d.memory_bus_width_bits = bus;
    d.memory_clock_khz = clock;
    q.devices.push_back(d);
  }
  if (q.devices.empty()) q.why_none = "no device answered cudaGetDeviceProperties";
  return q;
}

}  // namespace rapide::inference::cuda
