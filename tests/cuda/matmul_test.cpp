// Backend::matmul, matmul_many and get_rows on the CUDA backend against the CPU backend, for every
// weight type the CUDA kernels take, through the public Backend interface only. Shapes cover both
// paths of inference/cuda/matmul.cu (the dp4a GEMV for 1..16 tokens, dequantize + cuBLAS for 17
// and 64), odd row counts (1, 3, 33, 257: partial CUDA blocks of 4 rows) and several row lengths
// (256, 512, 1536; 96 for the 32-element and float types: rows shorter than a warp step).
// Errors are RMS-normalised (see rel_err), bounded per type. Both backends quantize the
// activations of quantized types to int8 (the CPU per Q8_0/Q8_K block, the GPU per 32 values), so
// each is ~0.5-1e-2 from the exact product and they differ by about that much.
// Every test skips, saying why, without a CUDA device.
#include "rapide/inference/backend.h"
#include "rapide/inference/cuda/cuda_backend.h"
#include "rapide/inference/quant.h"
#include "rapide/inference/tensor_type.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace rapide::inference::cuda {
namespace {

// RMS(got - want) / RMS(want), the RMS floored at half of sqrt(n_cols): the typical size of an
// output for unit-Gaussian W and x, so that a few outputs that happen to be near zero (one row,
// one token) do not turn the activations' quantization noise into a large relative error.
double rel_err(const std::vector<float>& got, const std::vector<float>& want, std::int64_t n_cols) {
  if (want.empty()) return 0.0;
  double e = 0, n = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double d = static_cast<double>(got[i]) - want[i];
    e += d * d;
    n += static_cast<double>(want[i]) * want[i];
  }
  const double rms_want = std::sqrt(n / static_cast<double>(want.size()));
  const double scale = std::max(rms_want, 0.5 * std::sqrt(static_cast<double>(n_cols)));
  return std::sqrt(e / static_cast<double>(want.size())) / scale;
}

std::vector<float> random_floats(std::size_t n, std::mt19937& rng) {
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

bool is_float(TensorType t) { return t == TensorType::F32 || t == TensorType::F16 || t == TensorType::BF16; }
bool block32(TensorType t) {
  return t == TensorType::Q4_0 || t == TensorType::Q4_1 || t == TensorType::Q5_0 || t == TensorType::Q5_1 ||
         t == TensorType::Q8_0;
}

// The normalised error allowed between the two backends for weights of type t.
double bound(TensorType t, std::int64_t n_tokens) {
  if (is_float(t)) return n_tokens > 16 ? 5e-3 : 1e-4;  // FP16 inputs to cuBLAS vs float GEMV
  return 3e-2;
}

// A weight in host memory (the backends key uploads by its address: it must outlive them).
struct HostWeight {
  std::vector<std::uint8_t> bytes;
  WeightView view;
  std::string name;
};

std::unique_ptr<HostWeight> make_weight(TensorType t, std::int64_t n_rows, std::int64_t n_cols, std::mt19937& rng) {
  auto w = std::make_unique<HostWeight>();
  const auto row_bytes = tensor_row_bytes(t, static_cast<std::uint64_t>(n_cols));
  EXPECT_TRUE(row_bytes.has_value());
  w->bytes.resize(static_cast<std::size_t>(*row_bytes * static_cast<std::uint64_t>(n_rows)) + 1);
  for (std::int64_t r = 0; r < n_rows; ++r) {
    const auto x = random_floats(static_cast<std::size_t>(n_cols), rng);
    const Status s = quantize_row(t, x.data(), w->bytes.data() + static_cast<std::size_t>(r) * *row_bytes, n_cols);
    EXPECT_TRUE(s.ok()) << s.message();
  }
  w->name = std::string(tensor_type_traits(t).name) + "[" + std::to_string(n_rows) + "x" + std::to_string(n_cols) + "]";
  w->view.type = t;
  w->view.data = w->bytes.data();
  w->view.n_cols = n_cols;
  w->view.n_rows = n_rows;
  w->view.row_bytes = static_cast<std::size_t>(*row_bytes);
  w->view.name = w->name;
  return w;
}

class CudaMatmul : public ::testing::TestWithParam<TensorType> {
 protected:
  void SetUp() override {
    auto g = make_cuda_backend(0, {});
    if (!g) GTEST_SKIP() << "no CUDA backend: " << g.message();
    gpu_ = std::move(*g);
    cpu_ = make_cpu_backend({});
  }

  void prepare(const HostWeight& w) {
    ASSERT_TRUE(cpu_->prepare_weights({&w.view, 1}));
    const Status st = gpu_->prepare_weights({&w.view, 1});
    ASSERT_TRUE(st) << st.message();
  }
  // Host floats into a new device buffer.
  std::unique_ptr<Buffer> to_device(const std::vector<float>& host) {
    auto b = gpu_->alloc(host.size());
    const Status st = copy_from_host(*gpu_, host.data(), b->data(), host.size());
    EXPECT_TRUE(st) << st.message();
    return b;
  }
  std::vector<float> from_device(Buffer& b, std::size_t n) {
    std::vector<float> out(n);
    gpu_->to_host(b.data(), out.data(), n);
    EXPECT_TRUE(gpu_->device_status()) << gpu_->device_status().message();
    return out;
  }
  // y = W x on both backends; returns the normalised difference.
  double compare_matmul(const HostWeight& w, std::int64_t n_tokens, std::mt19937& rng) {
    const auto x = random_floats(static_cast<std::size_t>(n_tokens * w.view.n_cols), rng);
    const auto n_out = static_cast<std::size_t>(n_tokens * w.view.n_rows);
    auto xc = cpu_->alloc(x.size());
    std::copy(x.begin(), x.end(), xc->data());
    auto yc = cpu_->alloc(n_out);
    cpu_->matmul(w.view, xc->data(), n_tokens, yc->data());
    auto xg = to_device(x);
    auto yg = gpu_->alloc(n_out);
    gpu_->matmul(w.view, xg->data(), n_tokens, yg->data());
    const std::vector<float> want(yc->data(), yc->data() + n_out);
    return rel_err(from_device(*yg, n_out), want, w.view.n_cols);
  }

  std::unique_ptr<Backend> cpu_, gpu_;
};

TEST_P(CudaMatmul, MatchesCpuForEveryShape) {
  const TensorType t = GetParam();
  std::mt19937 rng(static_cast<std::uint32_t>(t) + 17);
  std::vector<std::int64_t> cols = {256, 512, 1536};
  if (block32(t) || is_float(t)) cols.insert(cols.begin(), 96);
  for (const std::int64_t n_cols : cols) {
    for (const std::int64_t n_rows : {1, 3, 33, 257}) {
      const auto w = make_weight(t, n_rows, n_cols, rng);
      prepare(*w);
      for (const std::int64_t n_tokens : {1, 2, 3, 7, 8, 16, 17, 64}) {
        const double e = compare_matmul(*w, n_tokens, rng);
        EXPECT_LE(e, bound(t, n_tokens)) << w->name << " n_tokens " << n_tokens;
      }
    }
  }
}

TEST_P(CudaMatmul, ManyProductsOfOneInput) {
  const TensorType t = GetParam();
  std::mt19937 rng(99);
  const std::int64_t n_cols = 512;
  const auto a = make_weight(t, 33, n_cols, rng);
  const auto b = make_weight(t, 7, n_cols, rng);
  prepare(*a);
  prepare(*b);
  for (const std::int64_t n_tokens : {1, 5, 40}) {
    const auto x = random_floats(static_cast<std::size_t>(n_tokens * n_cols), rng);
    auto xc = cpu_->alloc(x.size());
    std::copy(x.begin(), x.end(), xc->data());
    auto xg = to_device(x);
    const auto na = static_cast<std::size_t>(n_tokens * 33), nb = static_cast<std::size_t>(n_tokens * 7);
    auto yca = cpu_->alloc(na), ycb = cpu_->alloc(nb), yga = gpu_->alloc(na), ygb = gpu_->alloc(nb);
    const Backend::MatmulOut co[] = {{&a->view, yca->data()}, {&b->view, ycb->data()}};
    const Backend::MatmulOut go[] = {{&a->view, yga->data()}, {&b->view, ygb->data()}};
    cpu_->matmul_many(co, xc->data(), n_tokens);
    gpu_->matmul_many(go, xg->data(), n_tokens);
    EXPECT_LE(rel_err(from_device(*yga, na), std::vector<float>(yca->data(), yca->data() + na), n_cols), bound(t, n_tokens))
        << "first output, n_tokens " << n_tokens;
    EXPECT_LE(rel_err(from_device(*ygb, nb), std::vector<float>(ycb->data(), ycb->data() + nb), n_cols), bound(t, n_tokens))
        << "second output, n_tokens " << n_tokens;
  }
}

TEST_P(CudaMatmul, GetRowsMatchesCpu) {
  const TensorType t = GetParam();
  std::mt19937 rng(5);
  const std::int64_t n_cols = (block32(t) || is_float(t)) ? 96 : 512;
  const auto w = make_weight(t, 33, n_cols, rng);
  prepare(*w);
  const std::vector<std::int32_t> tokens = {0, 32, 5, 5, 17};
  const auto n = tokens.size() * static_cast<std::size_t>(n_cols);
  auto yc = cpu_->alloc(n);
  cpu_->get_rows(w->view, tokens, yc->data());
  auto yg = gpu_->alloc(n);
  gpu_->get_rows(w->view, tokens, yg->data());
  const std::vector<float> got = from_device(*yg, n);
  for (std::size_t i = 0; i < n; ++i)
    ASSERT_NEAR(got[i], yc->data()[i], 1e-6f * (1.0f + std::fabs(yc->data()[i]))) << w->name << " element " << i;
}

INSTANTIATE_TEST_SUITE_P(AllTypes, CudaMatmul,
                         ::testing::Values(TensorType::F32, TensorType::F16, TensorType::BF16, TensorType::Q4_0,
                                           TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0,
                                           TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K),
                         [](const ::testing::TestParamInfo<TensorType>& i) {
                           return std::string(tensor_type_traits(i.param).name);
                         });

TEST(CudaMatmulErrors, UnsupportedTypeIsRejectedByName) {
  auto g = make_cuda_backend(0, {});
  if (!g) GTEST_SKIP() << "no CUDA backend: " << g.message();
  std::vector<std::uint8_t> bytes(*tensor_row_bytes(TensorType::Q2_K, 256), 0);
  WeightView w;
  w.type = TensorType::Q2_K;
  w.data = bytes.data();
  w.n_cols = 256;
  w.n_rows = 1;
  w.row_bytes = bytes.size();
  w.name = "blk.0.ffn_down.weight";
  const Status st = (*g)->prepare_weights({&w, 1});
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("blk.0.ffn_down.weight"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("Q2_K"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace rapide::inference::cuda
