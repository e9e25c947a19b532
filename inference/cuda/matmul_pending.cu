// Placeholder for the matmul.cuh contract, compiled only while the real kernels (matmul*.cu,
// get_rows.cu) are not in the tree (see CMakeLists.txt): it links, and every entry point says the
// kernels are missing, so a CUDA model load fails with that reason instead of a link error.
// Delete this file (and its CMake branch) when the kernels land.
#include "matmul.cuh"

namespace rapide::inference::cuda {

namespace {
constexpr const char* kMissing = "the CUDA matmul/get_rows kernels are not in this build yet (matmul_pending.cu)";
}

std::string matmul_supports(TensorType, std::int64_t) { return kMissing; }

struct MatmulRunner::Impl {};

MatmulRunner::MatmulRunner(cublasHandle_t, cudaStream_t) : impl_(nullptr) {}
MatmulRunner::~MatmulRunner() = default;

std::string MatmulRunner::reserve(std::int64_t, std::int64_t, std::int64_t) { return kMissing; }

std::string MatmulRunner::run(const DeviceWeight&, const float*, std::int64_t, float*) { return kMissing; }

std::string get_rows(const DeviceWeight&, const std::int32_t*, std::int64_t, float*, cudaStream_t) { return kMissing; }

}  // namespace rapide::inference::cuda
