// Byte-level cross-check against ggml itself: the prebuilt llama.cpp that node-llama-cpp ships
// (bench/reference/node_modules, pinned 3.21.1) exports ggml's reference quantizers, dequantizers
// and CPU dot products. We load those shared libraries with dlopen and compare on the same data:
//   - dequantize: our decode of ggml-made blocks equals ggml's, bit for bit;
//   - quantize: our blocks equal ggml's reference quantizer's, byte for byte (so make-model
//     writes what llama-quantize would write from the same F32 weights);
//   - F16/BF16 row conversion: identical bits;
//   - vec_dot: our result on ggml's blocks equals ggml_vec_dot_*'s up to float summation order.
// Nothing from ggml is compiled into rapide; the test skips when the libraries are absent.
#include "rapide/inference/quant.h"

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace rapide::inference {
namespace {

using QuantizeRef = void (*)(const float*, void*, std::int64_t);
using DequantizeRow = void (*)(const void*, float*, std::int64_t);
using ConvertRow = void (*)(const float*, std::uint16_t*, std::int64_t);
using GgmlVecDot = void (*)(int, float*, std::size_t, const void*, std::size_t, const void*, std::size_t, int);

class Ggml {
 public:
  Ggml() {
    const auto dir = std::filesystem::path(RAPIDE_SOURCE_DIR) / "bench/reference/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64";
    if (!std::filesystem::exists(dir / "libggml-base.so")) {
      why_ = "node-llama-cpp's prebuilt ggml is absent (" + dir.string() + "; run scripts/setup.sh)";
      return;
    }
    base_ = dlopen((dir / "libggml-base.so").c_str(), RTLD_NOW | RTLD_GLOBAL);
    // The baseline x86-64 build: no instruction the test machine might lack.
    cpu_ = base_ ? dlopen((dir / "libggml-cpu-x64.so").c_str(), RTLD_NOW | RTLD_LOCAL) : nullptr;
    if (!base_ || !cpu_) {
      why_ = std::string("dlopen failed: ") + dlerror();
      return;
    }
    if (auto init = reinterpret_cast<void (*)()>(dlsym(cpu_, "ggml_cpu_init"))) init();
  }
  ~Ggml() {
    if (cpu_) dlclose(cpu_);
    if (base_) dlclose(base_);
  }
  bool ok() const { return base_ && cpu_; }
  const std::string& why() const { return why_; }
  template <class F>
  F base(const std::string& name) const {
    return reinterpret_cast<F>(dlsym(base_, name.c_str()));
  }
  template <class F>
  F cpu(const std::string& name) const {
    return reinterpret_cast<F>(dlsym(cpu_, name.c_str()));
  }

 private:
  void* base_ = nullptr;
  void* cpu_ = nullptr;
  std::string why_;
};

const Ggml& ggml() {
  static const Ggml g;
  return g;
}

#define REQUIRE_GGML()                                      \
  if (!ggml().ok()) GTEST_SKIP() << ggml().why()

// Rows that exercise the quantizers: Gaussian, heavy outliers, all zero, constant, tiny values,
// a single non-zero, mixed signs of equal magnitude.
std::vector<float> test_rows(std::int64_t n_per_row, int rows_gaussian) {
  std::mt19937 rng(4242);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> v;
  for (int r = 0; r < rows_gaussian; ++r)
    for (std::int64_t i = 0; i < n_per_row; ++i) v.push_back(g(rng) * (r % 3 == 2 ? 100.0f : 1.0f));
  for (std::int64_t i = 0; i < n_per_row; ++i) v.push_back(i % 37 == 0 ? 30.0f * g(rng) : 0.1f * g(rng));
  for (std::int64_t i = 0; i < n_per_row; ++i) v.push_back(0.0f);
  for (std::int64_t i = 0; i < n_per_row; ++i) v.push_back(0.75f);
  for (std::int64_t i = 0; i < n_per_row; ++i) v.push_back(1e-6f * g(rng));
  for (std::int64_t i = 0; i < n_per_row; ++i) v.push_back(i == 5 ? -2.0f : 0.0f);
  for (std::int64_t i = 0; i < n_per_row; ++i) v.push_back(i % 2 ? 1.5f : -1.5f);
  return v;
}

// ggml's spelling in function names: "q4_0", "q4_K".
std::string ggml_suffix(TensorType t) {
  std::string out(tensor_type_traits(t).name);
  for (auto& c : out)
    if (c != 'K') c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

class QuantGgml : public ::testing::TestWithParam<TensorType> {};

TEST_P(QuantGgml, SameBytesAndSameValues) {
  REQUIRE_GGML();
  const TensorType t = GetParam();
  const std::string n = ggml_suffix(t);  // "q4_K", "q8_0"
  const auto ggml_quantize = ggml().base<QuantizeRef>("quantize_row_" + n + "_ref");
  const auto ggml_dequantize = ggml().base<DequantizeRow>("dequantize_row_" + n);
  ASSERT_NE(ggml_quantize, nullptr) << n;
  // ggml has no dequantize_row_q8_1 (Q8_1 only ever feeds its dot products).
  if (t != TensorType::Q8_1) {
    ASSERT_NE(ggml_dequantize, nullptr) << n;
  }

  const std::int64_t row = 1024;
  const auto x = test_rows(row, 60);
  const auto total = static_cast<std::int64_t>(x.size());
  const std::size_t bytes = *tensor_row_bytes(t, static_cast<std::uint64_t>(total));
  std::vector<std::uint8_t> theirs(bytes), ours(bytes);
  ggml_quantize(x.data(), theirs.data(), total);
  ASSERT_TRUE(quantize_row(t, x.data(), ours.data(), total).ok());

  // Decoding: bit-identical on ggml's blocks and on ours.
  std::vector<float> a(x.size()), b(x.size());
  for (const auto* blocks : {&theirs, &ours}) {
    if (!ggml_dequantize) break;
    ggml_dequantize(blocks->data(), a.data(), total);
    ASSERT_TRUE(dequantize_row(t, blocks->data(), b.data(), total).ok());
    for (std::size_t i = 0; i < x.size(); ++i)
      ASSERT_EQ(std::memcmp(&a[i], &b[i], 4), 0) << n << " element " << i << ": ggml " << a[i] << " rapide " << b[i];
  }

  // Encoding: count differing blocks (report them by position).
  const std::size_t block_bytes = tensor_type_traits(t).block_bytes;
  std::size_t differing = 0, first = 0;
  for (std::size_t off = 0; off < bytes; off += block_bytes) {
    if (std::memcmp(theirs.data() + off, ours.data() + off, block_bytes) != 0) {
      if (differing++ == 0) first = off / block_bytes;
    }
  }
  std::printf("[ measure  ] %-5s blocks identical to ggml's reference quantizer: %zu of %zu\n",
              std::string(tensor_type_traits(t).name).c_str(), bytes / block_bytes - differing, bytes / block_bytes);
  EXPECT_EQ(differing, 0u) << n << ": first differing block " << first;
}

INSTANTIATE_TEST_SUITE_P(Types, QuantGgml,
                         ::testing::Values(TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1,
                                           TensorType::Q8_0, TensorType::Q8_1, TensorType::Q4_K, TensorType::Q5_K,
                                           TensorType::Q6_K, TensorType::Q8_K),
                         [](const auto& p) { return std::string(tensor_type_traits(p.param).name); });

TEST(QuantGgmlFloat, F16AndBF16RowsMatch) {
  REQUIRE_GGML();
  const auto to_f16 = ggml().base<ConvertRow>("ggml_fp32_to_fp16_row");
  const auto to_bf16 = ggml().base<ConvertRow>("ggml_fp32_to_bf16_row_ref");
  ASSERT_NE(to_f16, nullptr);
  ASSERT_NE(to_bf16, nullptr);
  std::mt19937 rng(3);
  std::vector<float> x(1 << 16);
  for (auto& v : x) {
    std::uint32_t u = rng();
    if (rng() % 2) u = (u & 0x87FFFFFFu) | 0x38000000u;  // mostly within the half range
    std::memcpy(&v, &u, 4);
    if (std::isnan(v)) v = 1.0f;  // NaN payloads may legitimately differ
  }
  std::vector<std::uint16_t> theirs(x.size()), ours(x.size());
  for (auto [ggml_fn, type] : {std::pair{to_f16, TensorType::F16}, std::pair{to_bf16, TensorType::BF16}}) {
    ggml_fn(x.data(), theirs.data(), static_cast<std::int64_t>(x.size()));
    ASSERT_TRUE(quantize_row(type, x.data(), ours.data(), static_cast<std::int64_t>(x.size())).ok());
    for (std::size_t i = 0; i < x.size(); ++i)
      ASSERT_EQ(theirs[i], ours[i]) << tensor_type_traits(type).name << " value " << x[i];
  }
}

// ggml's CPU dot products on ggml's blocks against ours on the same bytes.
TEST(QuantGgmlDot, SameResultsAsGgmlVecDot) {
  REQUIRE_GGML();
  struct Case {
    TensorType weight;
    const char* fn;
    const char* act_quantizer;  // ggml's quantizer for its activation format
  };
  const Case cases[] = {
      {TensorType::Q4_0, "ggml_vec_dot_q4_0_q8_0", "quantize_row_q8_0_ref"},
      {TensorType::Q4_1, "ggml_vec_dot_q4_1_q8_1", "quantize_row_q8_1_ref"},
      {TensorType::Q5_0, "ggml_vec_dot_q5_0_q8_0", "quantize_row_q8_0_ref"},
      {TensorType::Q5_1, "ggml_vec_dot_q5_1_q8_1", "quantize_row_q8_1_ref"},
      {TensorType::Q8_0, "ggml_vec_dot_q8_0_q8_0", "quantize_row_q8_0_ref"},
      {TensorType::Q4_K, "ggml_vec_dot_q4_K_q8_K", "quantize_row_q8_K_ref"},
      {TensorType::Q5_K, "ggml_vec_dot_q5_K_q8_K", "quantize_row_q8_K_ref"},
      {TensorType::Q6_K, "ggml_vec_dot_q6_K_q8_K", "quantize_row_q8_K_ref"},
  };
  const std::int64_t n = 4096;
  std::mt19937 rng(77);
  std::normal_distribution<float> g(0.0f, 1.0f);
  for (const auto& c : cases) {
    const auto vec_dot_ggml = ggml().cpu<GgmlVecDot>(c.fn);
    const auto quantize_ggml = ggml().base<QuantizeRef>(c.act_quantizer);
    ASSERT_NE(vec_dot_ggml, nullptr) << c.fn;
    ASSERT_NE(quantize_ggml, nullptr) << c.act_quantizer;
    for (int rep = 0; rep < 4; ++rep) {
      std::vector<float> w(n), a(n);
      for (auto& v : w) v = g(rng);
      for (auto& v : a) v = g(rng) * (rep == 3 ? 50.0f : 1.0f);
      const TensorType at = vec_dot_activation_type(c.weight);
      std::vector<std::uint8_t> wq(*tensor_row_bytes(c.weight, n)), aq(*tensor_row_bytes(at, n));
      std::vector<std::uint8_t> aq_ggml(*tensor_row_bytes(std::string_view(c.act_quantizer).find("q8_1") != std::string_view::npos
                                                              ? TensorType::Q8_1
                                                              : at,
                                                          n));
      ASSERT_TRUE(quantize_row(c.weight, w.data(), wq.data(), n).ok());
      ASSERT_TRUE(quantize_row(at, a.data(), aq.data(), n).ok());
      quantize_ggml(a.data(), aq_ggml.data(), n);
      float theirs = 0;
      vec_dot_ggml(static_cast<int>(n), &theirs, 0, wq.data(), 0, aq_ggml.data(), 0, 1);
      double magnitude = 0;
      {
        std::vector<float> wd(n), ad(n);
        ASSERT_TRUE(dequantize_row(c.weight, wq.data(), wd.data(), n).ok());
        ASSERT_TRUE(dequantize_row(at, aq.data(), ad.data(), n).ok());
        for (std::int64_t i = 0; i < n; ++i) magnitude += std::fabs(static_cast<double>(wd[i]) * ad[i]);
      }
      for (QuantIsa isa : {QuantIsa::Scalar, QuantIsa::Avx2}) {
        if (!quant_isa_available(isa)) continue;
        const float ours = vec_dot(c.weight, wq.data(), aq.data(), n, isa);
        // Q4_1/Q5_1: ggml rounds the activation block sums to half (Q8_1's s), we keep them exact.
        const double tol = (c.weight == TensorType::Q4_1 || c.weight == TensorType::Q5_1 ? 1e-3 : 1e-5) * magnitude;
        EXPECT_NEAR(ours, theirs, tol) << c.fn << " " << quant_isa_name(isa) << " rep " << rep;
      }
    }
  }
}

}  // namespace
}  // namespace rapide::inference
