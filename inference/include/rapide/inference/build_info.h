// What this build of the inference library contains: version, compiled-in backends and the
// CPU features found at run time. Used by `rapide --version` and the status endpoints.
#pragma once

#include <string>

namespace rapide::inference {

struct BuildInfo {
  std::string version;      // "0.1.0"
  bool cuda_compiled = false;  // the CUDA backend was built (nvcc was found at configure time)
  std::string cpu_features;    // space-separated features detected on this CPU: "avx2 fma f16c avx512f"
  std::string compiler;        // e.g. "g++ 12.2.0"
};

// Thread-safe; cheap after the first call.
const BuildInfo& build_info();

}  // namespace rapide::inference
