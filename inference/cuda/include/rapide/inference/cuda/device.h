// The CUDA side of rapide as seen from plain C++: no CUDA headers here, so the CLI and tests
// can ask about devices without nvcc. Every function is safe to call on a machine without a
// GPU or driver: it reports "no device" with the reason instead of failing.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace rapide::inference::cuda {

struct DeviceInfo {
  int index = 0;
  std::string name;
  std::size_t total_memory_bytes = 0;
  int sm_major = 0;
  int sm_minor = 0;
  int memory_bus_width_bits = 0;
  double memory_clock_khz = 0;
  // Theoretical peak: 2 (DDR) * clock * bus width / 8.
  double peak_bandwidth_gbps() const { return 2.0 * memory_clock_khz * 1e3 * (memory_bus_width_bits / 8.0) / 1e9; }
};

struct DeviceQuery {
  std::vector<DeviceInfo> devices;  // empty when no usable device
  std::string why_none;             // the driver's message when `devices` is empty
  int cublas_version = 0;           // version of the cuBLAS library linked in
};

// Lists the usable CUDA devices. Thread-safe.
DeviceQuery query_devices();

// Measured device-to-device copy bandwidth of device `index` in GB/s (1e9 bytes/s), counting
// each copied byte twice (read and written: the traffic a memory-bound kernel sees), the median
// of several timed cudaMemcpyAsync calls of `bytes` bytes. Error text when no device, out of
// memory, or a CUDA call fails.
struct CopyBandwidth {
  double gbps = 0;
  std::string error;  // empty on success
};
CopyBandwidth measure_copy_bandwidth(int index, std::size_t bytes = std::size_t{256} << 20);

}  // namespace rapide::inference::cuda
