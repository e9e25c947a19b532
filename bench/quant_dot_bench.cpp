// quant_dot_bench: speed of the quantized matrix-vector product (vec_dot_rows) per weight type and
// kernel set, one thread. Prints weight bytes streamed per second (GB/s, what bounds decode) and
// multiply-adds per second, for a matrix that fits in L2 and one that does not. Timed in thread
// CPU time (the machine is shared).
//
//   quant_dot_bench [n_cols=4096] [seconds_per_case=0.3]
#include "rapide/inference/quant.h"

#include <ctime>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

using namespace rapide::inference;

namespace {

// CPU time of this thread: the 2-core machine is shared, so wall time would count other
// processes' work.
double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Prepared {
  std::vector<std::uint8_t> weights, act;
  std::size_t stride = 0;
};

Prepared prepare(TensorType t, std::int64_t n, std::int64_t rows) {
  std::mt19937 rng(42);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> row(static_cast<std::size_t>(n));
  Prepared p;
  p.stride = *tensor_row_bytes(t, static_cast<std::uint64_t>(n));
  p.weights.resize(p.stride * static_cast<std::size_t>(rows));
  for (std::int64_t r = 0; r < rows; ++r) {
    for (auto& v : row) v = dist(rng);
    if (!quantize_row(t, row.data(), p.weights.data() + static_cast<std::size_t>(r) * p.stride, n).ok()) std::abort();
  }
  for (auto& v : row) v = dist(rng);
  const TensorType at = vec_dot_activation_type(t);
  p.act.resize(*tensor_row_bytes(at, static_cast<std::uint64_t>(n)));
  if (!quantize_row(at, row.data(), p.act.data(), n).ok()) std::abort();
  return p;
}

// GB/s of weights through vec_dot over `rows` rows (the first rows of p), repeated for `seconds`.
double measure(const Prepared& p, TensorType t, QuantIsa isa, std::int64_t n, std::int64_t rows, double seconds) {
  VecDotFn f = vec_dot_function(t, isa);
  std::vector<float> out(static_cast<std::size_t>(rows));
  const double start = thread_seconds();
  std::int64_t passes = 0;
  double elapsed = 0;
  volatile float sink = 0;
  do {
    for (std::int64_t r = 0; r < rows; ++r)
      out[static_cast<std::size_t>(r)] = f(p.weights.data() + static_cast<std::size_t>(r) * p.stride, p.act.data(), n);
    sink = sink + out[0];
    ++passes;
    elapsed = thread_seconds() - start;
  } while (elapsed < seconds);
  return static_cast<double>(p.stride) * static_cast<double>(rows) * static_cast<double>(passes) / elapsed / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t n = argc > 1 ? std::atoll(argv[1]) : 4096;
  const double seconds = argc > 2 ? std::atof(argv[2]) : 0.3;
  const TensorType types[] = {TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q8_0,
                              TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1,
                              TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K};
  std::printf("vec_dot, 1 thread, rows of %lld, thread CPU time; GB/s of weights (Gmac/s in brackets)\n", static_cast<long long>(n));
  std::printf("%-5s %-7s %22s %22s\n", "type", "kernels", "L2-resident (64 rows)", "memory (4096 rows)");
  for (TensorType t : types) {
    const Prepared p = prepare(t, n, 4096);
    for (QuantIsa isa : {QuantIsa::Scalar, QuantIsa::Avx2}) {
      if (!quant_isa_available(isa)) continue;
      const double bpe = static_cast<double>(p.stride) / static_cast<double>(n);
      const double small = measure(p, t, isa, n, 64, seconds);
      const double big = measure(p, t, isa, n, 4096, seconds);
      std::printf("%-5s %-7s %10.2f (%6.2f)     %10.2f (%6.2f)\n", std::string(tensor_type_traits(t).name).c_str(),
                  quant_isa_name(isa), small, small / bpe, big, big / bpe);
    }
  }
  return 0;
}
