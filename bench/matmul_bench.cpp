// The CPU backend's int8 matmul (inference/cpu/matmul.h) on its own: y = W x for one weight
// matrix of a given type and shape against n tokens of activations, timed over repetitions, so a
// kernel change can be judged in seconds instead of a whole-model run.
//   matmul_bench [--type q8_0|q4_0|q4_k|q5_k|q6_k] [--rows R] [--cols C] [--tokens N,N,...]
//                [--threads T] [--reps K] [--isa avx2|scalar] [--copies N]
// --copies: N copies of the matrix used in turn, so that with N x its size above the last-level
// cache (32 MiB here) the weights come from DRAM as in a real model (default 8).
// Prints per token count: the fastest repetition's time, billions of multiply-adds per second and GB/s of
// weight bytes read. The defaults are qwen2.5-coder-1.5b's FFN up projection (8960 x 1536).
#include "cpu/matmul.h"
#include "cpu/thread_pool.h"
#include "rapide/inference/quant.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace rapide::inference;

TensorType parse_type(std::string_view s) {
  if (s == "q8_0") return TensorType::Q8_0;
  if (s == "q4_0") return TensorType::Q4_0;
  if (s == "q4_k") return TensorType::Q4_K;
  if (s == "q5_k") return TensorType::Q5_K;
  if (s == "q6_k") return TensorType::Q6_K;
  std::fprintf(stderr, "matmul_bench: unknown type '%.*s' (q8_0, q4_0, q4_k, q5_k, q6_k)\n", static_cast<int>(s.size()),
               s.data());
  std::exit(2);
}

std::vector<std::int64_t> parse_list(const std::string& s) {
  std::vector<std::int64_t> v;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) v.push_back(std::stoll(item));
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  TensorType type = TensorType::Q8_0;
  std::int64_t rows = 8960, cols = 1536;
  std::vector<std::int64_t> tokens = {1, 2, 4, 8, 64, 512};
  int threads = 2, reps = 9, copies = 8;
  cpu::MatmulIsa isa = cpu::matmul_best_isa();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view k = argv[i];
    const std::string v = argv[i + 1];
    if (k == "--type") type = parse_type(v);
    else if (k == "--rows") rows = std::stoll(v);
    else if (k == "--cols") cols = std::stoll(v);
    else if (k == "--tokens") tokens = parse_list(v);
    else if (k == "--threads") threads = std::stoi(v);
    else if (k == "--reps") reps = std::stoi(v);
    else if (k == "--copies") copies = std::max(1, std::stoi(v));
    else if (k == "--isa") isa = v == "scalar" ? cpu::MatmulIsa::Scalar : cpu::MatmulIsa::Avx2;
    else {
      std::fprintf(stderr, "matmul_bench: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (!cpu::matmul_isa_available(isa)) {
    std::fprintf(stderr, "matmul_bench: %s is not available on this CPU\n", cpu::matmul_isa_name(isa));
    return 2;
  }
  const auto row_bytes = static_cast<std::size_t>(*tensor_row_bytes(type, static_cast<std::uint64_t>(cols)));
  const std::size_t matrix_bytes = row_bytes * static_cast<std::size_t>(rows);
  std::vector<std::uint8_t> weights(matrix_bytes * static_cast<std::size_t>(copies));
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  std::vector<float> src(static_cast<std::size_t>(cols));
  for (std::int64_t r = 0; r < rows; ++r) {
    for (auto& x : src) x = dist(rng);
    if (!quantize_row(type, src.data(), weights.data() + static_cast<std::size_t>(r) * row_bytes, cols).ok()) return 1;
  }
  for (int c = 1; c < copies; ++c)
    std::copy(weights.begin(), weights.begin() + static_cast<std::ptrdiff_t>(matrix_bytes),
              weights.begin() + static_cast<std::ptrdiff_t>(matrix_bytes * static_cast<std::size_t>(c)));
  WeightView w;
  w.type = type;
  w.data = weights.data();
  w.n_rows = rows;
  w.n_cols = cols;
  w.row_bytes = row_bytes;
  w.name = "bench";
  cpu::ThreadPool pool(threads);
  std::printf("type %s, %lld x %lld (%d copies, %.0f MiB), %d threads, isa %s\n", std::string(tensor_type_traits(type).name).c_str(),
              static_cast<long long>(rows), static_cast<long long>(cols), copies,
              static_cast<double>(weights.size()) / (1024.0 * 1024.0), threads, cpu::matmul_isa_name(isa));
  for (std::int64_t nt : tokens) {
    std::vector<float> x(static_cast<std::size_t>(nt * cols));
    for (auto& v : x) v = dist(rng) * 50.0f;
    std::vector<std::uint8_t> act;
    std::size_t act_row = 0;
    if (!cpu::quantize_activations(pool, type, x.data(), nt, cols, act, &act_row)) return 1;
    std::vector<float> y(static_cast<std::size_t>(nt * rows));
    std::vector<double> times;
    for (int k = 0; k < reps + copies; ++k) {
      w.data = weights.data() + matrix_bytes * static_cast<std::size_t>(k % copies);
      const auto t0 = std::chrono::steady_clock::now();
      cpu::matmul_int8(pool, w, act.data(), act_row, nt, y.data(), isa);
      const auto t1 = std::chrono::steady_clock::now();
      if (k >= copies) times.push_back(std::chrono::duration<double>(t1 - t0).count());
    }
    std::sort(times.begin(), times.end());
    // The fastest repetition: on a shared machine the others only measure interference.
    const double t = times.front();
    const double macs = static_cast<double>(rows) * static_cast<double>(cols) * static_cast<double>(nt);
    std::printf("tokens %4lld  %9.3f ms  %7.2f GMAC/s  %6.2f GB/s weights\n", static_cast<long long>(nt), t * 1e3,
                macs / t * 1e-9, static_cast<double>(matrix_bytes) / t * 1e-9);
  }
  return 0;
}
