// Every non-matmul op of the Backend interface on the CUDA backend against the CPU backend (the
// reference), with a normalised error bound: ||got - want|| / ||want||. Odd sizes, empty inputs,
// GQA, sliding windows, NEOX and YaRN rope, positions not starting at 0. Matmul and get_rows are
// covered by matmul_test.cpp and the whole-model test (cuda_forward_test.cpp).
// Every test skips, saying why, without a CUDA device.
#include "rapide/inference/backend.h"
#include "rapide/inference/cuda/cuda_backend.h"
#include "rapide/inference/cuda/device.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace rapide::inference::cuda {
namespace {

#define RAPIDE_REQUIRE_CUDA_DEVICE()                                                  \
  do {                                                                               \
    const auto q_ = query_devices();                                                 \
    if (q_.devices.empty()) GTEST_SKIP() << "no CUDA device present: " << q_.why_none; \
  } while (0)

double rel_err(const std::vector<float>& got, const std::vector<float>& want) {
  double e = 0, n = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double d = static_cast<double>(got[i]) - want[i];
    e += d * d;
    n += static_cast<double>(want[i]) * want[i];
  }
  return want.empty() ? 0.0 : std::sqrt(e / (n + 1e-30));
}

std::vector<float> random_floats(std::size_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// A CPU and a CUDA backend side by side, with helpers that put the same host data in both.
class CudaOps : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto q = query_devices();
    if (q.devices.empty()) GTEST_SKIP() << "no CUDA device present: " << q.why_none;
    cpu_ = make_cpu_backend({});
    auto g = make_cuda_backend(0, {});
    ASSERT_TRUE(g) << g.message();
    gpu_ = std::move(*g);
  }

  struct Pair {
    std::unique_ptr<Buffer> cpu, gpu;
    std::size_t n = 0;
  };
  Pair put(const std::vector<float>& host) {
    Pair p{cpu_->alloc(host.size()), gpu_->alloc(host.size()), host.size()};
    std::copy(host.begin(), host.end(), p.cpu->data());
    EXPECT_TRUE(copy_from_host(*gpu_, host.data(), p.gpu->data(), host.size()));
    return p;
  }
  Pair zeros(std::size_t n) { return put(std::vector<float>(n, 0.0f)); }
  std::vector<float> cpu_of(const Pair& p) { return {p.cpu->data(), p.cpu->data() + p.n}; }
  std::vector<float> gpu_of(const Pair& p) {
    std::vector<float> out(p.n);
    gpu_->to_host(p.gpu->data(), out.data(), p.n);
    EXPECT_TRUE(gpu_->device_status()) << gpu_->device_status().message();
    return out;
  }
  // An F32 vector weight over host storage, uploaded to both backends.
  WeightView vector_weight(const std::vector<float>& v, const char* name) {
    WeightView w;
    w.type = TensorType::F32;
    w.data = reinterpret_cast<const std::uint8_t*>(v.data());
    w.n_cols = static_cast<std::int64_t>(v.size());
    w.n_rows = 1;
    w.row_bytes = v.size() * sizeof(float);
    w.name = name;
    EXPECT_TRUE(cpu_->prepare_weights({&w, 1}));
    const Status st = gpu_->prepare_weights({&w, 1});
    EXPECT_TRUE(st) << st.message();
    return w;
  }
  void expect_ok() { EXPECT_TRUE(gpu_->device_status()) << gpu_->device_status().message(); }

  std::mt19937 rng_{1234};
  std::unique_ptr<Backend> cpu_, gpu_;
};

TEST_F(CudaOps, NameAndThreads) {
  EXPECT_EQ(gpu_->name(), "cuda:0");
  EXPECT_EQ(gpu_->n_threads(), 1);
  expect_ok();
}

TEST_F(CudaOps, AddBias) {
  for (auto [rows, len] : {std::pair{1, 1}, {3, 33}, {7, 1000}, {0, 5}}) {
    const auto bias = random_floats(static_cast<std::size_t>(len), rng_);
    const WeightView w = vector_weight(bias, "blk.0.attn_q.bias");
    Pair y = put(random_floats(static_cast<std::size_t>(rows * len), rng_));
    cpu_->add_bias(y.cpu->data(), w, rows);
    gpu_->add_bias(y.gpu->data(), w, rows);
    EXPECT_LT(rel_err(gpu_of(y), cpu_of(y)), 1e-6) << rows << "x" << len;
  }
  expect_ok();
}

TEST_F(CudaOps, RmsNormWithAndWithoutWeightInPlace) {
  for (auto [rows, len] : {std::pair{1, 1}, {3, 31}, {7, 257}, {16, 1536}, {2, 4099}, {0, 8}}) {
    const auto x = random_floats(static_cast<std::size_t>(rows * len), rng_, 3.0f);
    const auto wv = random_floats(static_cast<std::size_t>(len), rng_);
    const WeightView w = vector_weight(wv, "blk.0.attn_norm.weight");
    Pair in = put(x), out = zeros(x.size());
    cpu_->rms_norm(in.cpu->data(), w, out.cpu->data(), rows, len, 1e-6f);
    gpu_->rms_norm(in.gpu->data(), w, out.gpu->data(), rows, len, 1e-6f);
    EXPECT_LT(rel_err(gpu_of(out), cpu_of(out)), 1e-5) << rows << "x" << len;
    // No weight, in place (the QK-norm call shape).
    cpu_->rms_norm(in.cpu->data(), WeightView{}, in.cpu->data(), rows, len, 1e-5f);
    gpu_->rms_norm(in.gpu->data(), WeightView{}, in.gpu->data(), rows, len, 1e-5f);
    EXPECT_LT(rel_err(gpu_of(in), cpu_of(in)), 1e-5) << rows << "x" << len << " in place";
  }
  expect_ok();
}

TEST_F(CudaOps, RopeNormalNeoxYarnPartialRotation) {
  struct Case {
    RopeType type;
    std::int32_t n_rot, head_dim, n_heads, n_tokens, pos0;
    float ext_factor, freq_scale;
  };
  const Case cases[] = {
      {RopeType::NORMAL, 64, 64, 4, 5, 0, 0.0f, 1.0f},     {RopeType::NEOX, 64, 64, 3, 7, 1000, 0.0f, 1.0f},
      {RopeType::NEOX, 32, 40, 2, 3, 17, 0.0f, 1.0f},      {RopeType::NORMAL, 16, 24, 5, 1, 4095, 0.0f, 0.5f},
      {RopeType::NEOX, 128, 128, 2, 9, 300, 1.0f, 0.25f},  {RopeType::NORMAL, 64, 64, 1, 0, 0, 0.0f, 1.0f},
  };
  for (const Case& c : cases) {
    RopeParams p;
    p.type = c.type;
    p.n_rot = c.n_rot;
    p.head_dim = c.head_dim;
    p.freq_base = 1e6f;
    p.freq_scale = c.freq_scale;
    p.ext_factor = c.ext_factor;
    p.n_ctx_orig = 4096;
    std::vector<std::int32_t> pos(static_cast<std::size_t>(c.n_tokens));
    for (std::int32_t t = 0; t < c.n_tokens; ++t) pos[static_cast<std::size_t>(t)] = c.pos0 + 3 * t;  // gaps too
    Pair x = put(random_floats(static_cast<std::size_t>(c.n_tokens) * c.n_heads * c.head_dim, rng_));
    cpu_->rope(x.cpu->data(), c.n_tokens, c.n_heads, pos, p);
    gpu_->rope(x.gpu->data(), c.n_tokens, c.n_heads, pos, p);
    // cosf/sinf of large angles differ by a few ulps between host and device.
    EXPECT_LT(rel_err(gpu_of(x), cpu_of(x)), 1e-5) << "n_rot " << c.n_rot << " pos0 " << c.pos0;
  }
  expect_ok();
}

TEST_F(CudaOps, SwigluAndAdd) {
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{1000003}}) {
    Pair g = put(random_floats(n, rng_, 4.0f)), u = put(random_floats(n, rng_)), o = zeros(n);
    cpu_->swiglu(g.cpu->data(), u.cpu->data(), o.cpu->data(), static_cast<std::int64_t>(n));
    gpu_->swiglu(g.gpu->data(), u.gpu->data(), o.gpu->data(), static_cast<std::int64_t>(n));
    EXPECT_LT(rel_err(gpu_of(o), cpu_of(o)), 1e-6) << n;
    // In place over gate (how the model calls it).
    cpu_->swiglu(g.cpu->data(), u.cpu->data(), g.cpu->data(), static_cast<std::int64_t>(n));
    gpu_->swiglu(g.gpu->data(), u.gpu->data(), g.gpu->data(), static_cast<std::int64_t>(n));
    EXPECT_LT(rel_err(gpu_of(g), cpu_of(g)), 1e-6) << n;
    cpu_->add(o.cpu->data(), u.cpu->data(), static_cast<std::int64_t>(n));
    gpu_->add(o.gpu->data(), u.gpu->data(), static_cast<std::int64_t>(n));
    EXPECT_LT(rel_err(gpu_of(o), cpu_of(o)), 1e-7) << n;
  }
  expect_ok();
}

TEST_F(CudaOps, GatherAndScatterAddRows) {
  const std::int64_t n_rows = 37, len = 129;
  Pair x = put(random_floats(static_cast<std::size_t>(n_rows * len), rng_));
  const std::vector<std::int32_t> rows = {36, 0, 5, 17, 2, 35, 11};
  Pair g = zeros(rows.size() * static_cast<std::size_t>(len));
  cpu_->gather_rows(x.cpu->data(), len, rows, g.cpu->data());
  gpu_->gather_rows(x.gpu->data(), len, rows, g.gpu->data());
  EXPECT_EQ(gpu_of(g), cpu_of(g));
  const std::vector<float> scales = {0.5f, -1.0f, 2.0f, 0.25f, 1.0f, 0.0f, 3.5f};
  cpu_->scatter_add_rows(x.cpu->data(), len, g.cpu->data(), rows, scales);
  gpu_->scatter_add_rows(x.gpu->data(), len, g.gpu->data(), rows, scales);
  EXPECT_LT(rel_err(gpu_of(x), cpu_of(x)), 1e-7);
  // Empty row lists do nothing.
  gpu_->gather_rows(x.gpu->data(), len, {}, g.gpu->data());
  gpu_->scatter_add_rows(x.gpu->data(), len, g.gpu->data(), {}, {});
  EXPECT_LT(rel_err(gpu_of(x), cpu_of(x)), 1e-7);
  expect_ok();
}

TEST_F(CudaOps, KvCacheShapeBytesAndTruncate) {
  auto c = cpu_->new_kv_cache(3, 100, 128, 64);
  auto g = gpu_->new_kv_cache(3, 100, 128, 64);
  ASSERT_TRUE(c && g) << (g ? "" : g.message());
  EXPECT_EQ((*g)->bytes(), (*c)->bytes());
  EXPECT_EQ((*g)->capacity(), 100);
  EXPECT_EQ((*g)->size(), 0);
  gpu_->kv_set_size(**g, 40);
  EXPECT_EQ((*g)->size(), 40);
  (*g)->truncate(50);
  EXPECT_EQ((*g)->size(), 40);
  (*g)->truncate(7);
  EXPECT_EQ((*g)->size(), 7);
  (*g)->truncate(-3);
  EXPECT_EQ((*g)->size(), 0);
  EXPECT_FALSE(gpu_->new_kv_cache(3, 0, 128, 64));
  expect_ok();
}

struct AttnCase {
  std::int32_t n_head, n_head_kv, head_dim, head_dim_v, pos0, n_tokens, window;
};

void PrintTo(const AttnCase& c, std::ostream* os) {
  *os << "heads " << c.n_head << "/" << c.n_head_kv << " dims " << c.head_dim << "/" << c.head_dim_v << " pos0 " << c.pos0
      << " n " << c.n_tokens << " window " << c.window;
}

class CudaAttention : public CudaOps, public ::testing::WithParamInterface<AttnCase> {};

// Fills positions 0..pos0-1 with one kv_store, then the batch's keys with another (as the model
// does: earlier forwards, then this one), and compares the attention outputs.
TEST_P(CudaAttention, MatchesCpu) {
  const AttnCase c = GetParam();
  const std::int32_t kw = c.n_head_kv * c.head_dim, vw = c.n_head_kv * c.head_dim_v;
  const std::int32_t total = c.pos0 + c.n_tokens;
  auto ckv = cpu_->new_kv_cache(2, total + 3, kw, vw);
  auto gkv = gpu_->new_kv_cache(2, total + 3, kw, vw);
  ASSERT_TRUE(ckv && gkv) << (gkv ? "" : gkv.message());
  const std::int32_t layer = 1;
  Pair k = put(random_floats(static_cast<std::size_t>(total) * kw, rng_));
  Pair v = put(random_floats(static_cast<std::size_t>(total) * vw, rng_));
  auto store = [&](std::int32_t p0, std::int32_t n) {
    cpu_->kv_store(**ckv, layer, p0, n, k.cpu->data() + static_cast<std::size_t>(p0) * kw,
                   v.cpu->data() + static_cast<std::size_t>(p0) * vw);
    gpu_->kv_store(**gkv, layer, p0, n, k.gpu->data() + static_cast<std::size_t>(p0) * kw,
                   v.gpu->data() + static_cast<std::size_t>(p0) * vw);
  };
  if (c.pos0 > 0) store(0, c.pos0);
  store(c.pos0, c.n_tokens);
  AttentionParams ap;
  ap.n_head = c.n_head;
  ap.n_head_kv = c.n_head_kv;
  ap.head_dim = c.head_dim;
  ap.head_dim_v = c.head_dim_v;
  ap.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  ap.sliding_window = c.window;
  // Scores of a few units, so the softmax is neither flat nor one-hot.
  Pair q = put(random_floats(static_cast<std::size_t>(c.n_tokens) * c.n_head * c.head_dim, rng_, 2.0f));
  Pair out = zeros(static_cast<std::size_t>(c.n_tokens) * c.n_head * c.head_dim_v);
  cpu_->attention(**ckv, layer, q.cpu->data(), c.pos0, c.n_tokens, out.cpu->data(), ap);
  gpu_->attention(**gkv, layer, q.gpu->data(), c.pos0, c.n_tokens, out.gpu->data(), ap);
  EXPECT_LT(rel_err(gpu_of(out), cpu_of(out)), 2e-5);
  expect_ok();
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, CudaAttention,
    ::testing::Values(AttnCase{4, 2, 64, 64, 0, 1, 0},        // first token
                      AttnCase{8, 2, 64, 64, 300, 1, 0},      // decode, GQA 4
                      AttnCase{4, 4, 40, 40, 77, 5, 0},       // speculative verify, odd head size
                      AttnCase{14, 2, 64, 64, 1000, 16, 0},   // largest split-K batch
                      AttnCase{8, 4, 32, 32, 200, 20, 50},    // prefill tail, sliding window
                      AttnCase{8, 4, 32, 32, 500, 1, 50},     // decode, sliding window
                      AttnCase{4, 1, 128, 128, 0, 100, 0},    // prefill from 0, GQA 4
                      AttnCase{2, 2, 128, 64, 33, 17, 0},     // head_dim_v != head_dim
                      AttnCase{2, 1, 256, 256, 10, 40, 0},    // 256-wide heads: > 48 KiB shared memory
                      AttnCase{3, 1, 256, 256, 4000, 1, 0},   // 256-wide decode over many keys
                      AttnCase{6, 3, 24, 24, 5, 129, 7}));    // odd everything, tiny window

TEST_F(CudaOps, EmptyInputsAreNoOps) {
  const std::vector<float> wv(16, 1.0f);
  const WeightView w = vector_weight(wv, "output_norm.weight");
  Pair x = zeros(16);
  gpu_->add_bias(x.gpu->data(), w, 0);
  gpu_->rms_norm(x.gpu->data(), w, x.gpu->data(), 0, 16, 1e-6f);
  gpu_->rope(x.gpu->data(), 0, 4, {}, RopeParams{});
  gpu_->swiglu(x.gpu->data(), x.gpu->data(), x.gpu->data(), 0);
  gpu_->add(x.gpu->data(), x.gpu->data(), 0);
  gpu_->get_rows(w, {}, x.gpu->data());
  gpu_->matmul(w, x.gpu->data(), 0, x.gpu->data());
  gpu_->to_host(x.gpu->data(), nullptr, 0);
  auto kv = gpu_->new_kv_cache(1, 4, 8, 8);
  ASSERT_TRUE(kv);
  gpu_->kv_store(**kv, 0, 0, 0, x.gpu->data(), x.gpu->data());
  gpu_->attention(**kv, 0, x.gpu->data(), 0, 0, x.gpu->data(), AttentionParams{1, 1, 8, 8, 1.0f, 0});
  expect_ok();
}

TEST_F(CudaOps, ErrorsAreStickyAndNameTheProblem) {
  // A weight that prepare_weights never saw: the op is skipped and the error names the tensor.
  const std::vector<float> bias(8, 1.0f);
  WeightView w;
  w.type = TensorType::F32;
  w.data = reinterpret_cast<const std::uint8_t*>(bias.data());
  w.n_cols = 8;
  w.n_rows = 1;
  w.row_bytes = 32;
  w.name = "blk.9.never_uploaded";
  Pair y = zeros(8);
  gpu_->add_bias(y.gpu->data(), w, 1);
  const Status st = gpu_->device_status();
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("blk.9.never_uploaded"), std::string::npos) << st.message();
  // Later ops are skipped and the first error stays.
  gpu_->add(y.gpu->data(), y.gpu->data(), 8);
  EXPECT_EQ(gpu_->device_status().message(), st.message());
}

TEST(CudaBackendFactory, NoDeviceOrBadIndexIsAnError) {
  const auto q = query_devices();
  auto be = make_cuda_backend(q.devices.empty() ? 0 : static_cast<int>(q.devices.size()), {});
  ASSERT_FALSE(be);
  EXPECT_FALSE(be.message().empty());
  auto neg = make_cuda_backend(-1, {});
  EXPECT_FALSE(neg);
}

TEST(CudaBandwidth, MeasuredCopyIsPositive) {
  RAPIDE_REQUIRE_CUDA_DEVICE();
  const CopyBandwidth bw = measure_copy_bandwidth(0, std::size_t{64} << 20);
  ASSERT_TRUE(bw.error.empty()) << bw.error;
  EXPECT_GT(bw.gbps, 1.0);
  const auto q = query_devices();
  // A copy cannot beat the theoretical peak by much (clock rounding).
  EXPECT_LT(bw.gbps, 1.2 * q.devices[0].peak_bandwidth_gbps());
}

}  // namespace
}  // namespace rapide::inference::cuda
