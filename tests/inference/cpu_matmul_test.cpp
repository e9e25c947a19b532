// The CPU matmul (inference/cpu/matmul.h): every kernel path (GEMV and GEMM shapes, every weight
// type, scalar and AVX2 where the CPU has it, 1 and 2 threads) against a double-precision
// reference computed from the dequantized weights and the same quantized activations; odd row
// counts (the rows left over from the 4-row tiles), token counts around the tile sizes, rows of
// one K super-block (256) and of a few 32-blocks for the 32-element types. Also the backend entry
// (CpuBackend::matmul through make_cpu_backend), the float path, and NaN activations.
#include "cpu/matmul.h"
#include "rapide/inference/backend.h"
#include "rapide/inference/quant.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace rapide::inference::cpu {
namespace {

std::vector<float> gaussian(std::size_t n, std::uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

std::string type_name(TensorType t) { return std::string(tensor_type_traits(t).name); }

// A weight matrix of n_rows x n_cols in `type`, its bytes and its dequantized values.
struct Matrix {
  TensorType type;
  std::int64_t n_rows, n_cols;
  std::size_t row_bytes;
  std::vector<std::uint8_t> bytes;
  std::vector<float> values;  // dequantized

  WeightView view() const {
    WeightView w;
    w.type = type;
    w.data = bytes.data();
    w.n_rows = n_rows;
    w.n_cols = n_cols;
    w.row_bytes = row_bytes;
    w.name = "test";
    return w;
  }
};

Matrix make_matrix(TensorType type, std::int64_t n_rows, std::int64_t n_cols, std::uint32_t seed) {
  Matrix m{type, n_rows, n_cols, static_cast<std::size_t>(*tensor_row_bytes(type, static_cast<std::uint64_t>(n_cols))), {}, {}};
  m.bytes.resize(m.row_bytes * static_cast<std::size_t>(n_rows) + 1);
  m.values.resize(static_cast<std::size_t>(n_rows * n_cols));
  // Rows of different magnitudes, so per-block scales differ between the rows of a tile.
  for (std::int64_t r = 0; r < n_rows; ++r) {
    const std::vector<float> src = gaussian(static_cast<std::size_t>(n_cols), seed + static_cast<std::uint32_t>(r),
                                            0.02f * static_cast<float>(1 + r % 5));
    std::uint8_t* row = m.bytes.data() + static_cast<std::size_t>(r) * m.row_bytes;
    EXPECT_TRUE(quantize_row(type, src.data(), row, n_cols).ok());
    EXPECT_TRUE(dequantize_row(type, row, m.values.data() + r * n_cols, n_cols).ok());
  }
  return m;
}

// sum_i w[r][i] * a[t][i] in double, and sum_i |w * a| (the scale the tolerance is relative to).
void reference(const Matrix& m, const std::vector<float>& a, std::int64_t n_tokens, std::vector<double>& ref,
               std::vector<double>& mag) {
  ref.assign(static_cast<std::size_t>(n_tokens * m.n_rows), 0.0);
  mag.assign(ref.size(), 0.0);
  for (std::int64_t t = 0; t < n_tokens; ++t)
    for (std::int64_t r = 0; r < m.n_rows; ++r) {
      double s = 0.0, g = 0.0;
      for (std::int64_t i = 0; i < m.n_cols; ++i) {
        const double p = static_cast<double>(m.values[static_cast<std::size_t>(r * m.n_cols + i)]) *
                         a[static_cast<std::size_t>(t * m.n_cols + i)];
        s += p;
        g += std::fabs(p);
      }
      ref[static_cast<std::size_t>(t * m.n_rows + r)] = s;
      mag[static_cast<std::size_t>(t * m.n_rows + r)] = g;
    }
}

std::vector<MatmulIsa> isas() {
  std::vector<MatmulIsa> v{MatmulIsa::Scalar};
  if (matmul_isa_available(MatmulIsa::Avx2)) v.push_back(MatmulIsa::Avx2);
  return v;
}

// Runs matmul_int8 on every ISA and thread count and checks it against the reference.
void check_int8(TensorType type, std::int64_t n_rows, std::int64_t n_cols, const std::vector<std::int64_t>& tokens,
                std::uint32_t seed) {
  const Matrix m = make_matrix(type, n_rows, n_cols, seed);
  const std::int64_t max_tokens = *std::max_element(tokens.begin(), tokens.end());
  const std::vector<float> x = gaussian(static_cast<std::size_t>(max_tokens * n_cols), seed * 7 + 1);
  ThreadPool pool1(1), pool2(2);
  for (std::int64_t nt : tokens) {
    std::vector<std::uint8_t> act;
    std::size_t act_row = 0;
    ASSERT_TRUE(quantize_activations(pool2, type, x.data(), nt, n_cols, act, &act_row));
    // The reference uses the same quantized activations.
    const TensorType at = vec_dot_activation_type(type);
    std::vector<float> a(static_cast<std::size_t>(nt * n_cols));
    for (std::int64_t t = 0; t < nt; ++t)
      ASSERT_TRUE(dequantize_row(at, act.data() + static_cast<std::size_t>(t) * act_row, a.data() + t * n_cols, n_cols).ok());
    std::vector<double> ref, mag;
    reference(m, a, nt, ref, mag);
    for (MatmulIsa isa : isas())
      for (ThreadPool* pool : {&pool1, &pool2}) {
        std::vector<float> y(static_cast<std::size_t>(nt * n_rows), std::numeric_limits<float>::quiet_NaN());
        matmul_int8(*pool, m.view(), act.data(), act_row, nt, y.data(), isa);
        for (std::size_t i = 0; i < y.size(); ++i) {
          const double tol = 1e-5 * mag[i] + 1e-6;
          ASSERT_NEAR(y[i], ref[i], tol) << type_name(type) << " " << matmul_isa_name(isa) << " threads "
                                         << pool->size() << " rows " << n_rows << " cols " << n_cols << " tokens "
                                         << nt << " at token " << i / static_cast<std::size_t>(n_rows) << " row "
                                         << i % static_cast<std::size_t>(n_rows);
        }
      }
  }
}

const std::vector<std::int64_t> kTokens = {1, 2, 3, 5, 7, 16, 33, 100};

TEST(CpuMatmul, IsaDetection) {
  EXPECT_TRUE(matmul_isa_available(MatmulIsa::Scalar));
  // cpuid and the quant library's probe must agree on this CPU.
  EXPECT_EQ(matmul_isa_available(MatmulIsa::Avx2), quant_isa_available(QuantIsa::Avx2));
  EXPECT_EQ(matmul_best_isa() == MatmulIsa::Avx2, matmul_isa_available(MatmulIsa::Avx2));
  for (TensorType t : {TensorType::Q8_0, TensorType::Q4_0, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K})
    EXPECT_TRUE(matmul_int8_type(t)) << type_name(t);
  for (TensorType t : {TensorType::F32, TensorType::F16, TensorType::BF16})
    EXPECT_FALSE(matmul_int8_type(t)) << type_name(t);
}

TEST(CpuMatmul, Q8_0) {
  check_int8(TensorType::Q8_0, 13, 256, kTokens, 11);
  check_int8(TensorType::Q8_0, 8, 96, kTokens, 12);   // 3 blocks of 32
  check_int8(TensorType::Q8_0, 7, 32, {1, 4, 5}, 13);  // one block, rows below one tile
}

TEST(CpuMatmul, Q4_0) {
  check_int8(TensorType::Q4_0, 13, 256, kTokens, 21);
  check_int8(TensorType::Q4_0, 9, 160, kTokens, 22);
}

TEST(CpuMatmul, Q4_K) {
  check_int8(TensorType::Q4_K, 13, 256, kTokens, 31);
  check_int8(TensorType::Q4_K, 6, 768, {1, 3, 16}, 32);
}

TEST(CpuMatmul, Q5_K) {
  check_int8(TensorType::Q5_K, 13, 256, kTokens, 41);
  check_int8(TensorType::Q5_K, 6, 512, {1, 5, 33}, 42);
}

TEST(CpuMatmul, Q6_K) {
  check_int8(TensorType::Q6_K, 13, 256, kTokens, 51);
  check_int8(TensorType::Q6_K, 6, 768, {2, 7, 16}, 52);
}

TEST(CpuMatmul, ManyRowsSplitAcrossPanels) {
  // Enough rows for several prefill panels and uneven GEMV chunks.
  check_int8(TensorType::Q8_0, 301, 512, {1, 4, 17}, 61);
  check_int8(TensorType::Q4_K, 203, 512, {1, 4, 17}, 62);
}

// Through the backend entry point: quantized, float and half weights.
void check_backend(TensorType type, std::int64_t n_rows, std::int64_t n_cols, std::int64_t n_tokens, double rel) {
  const Matrix m = make_matrix(type, n_rows, n_cols, 77);
  const std::vector<float> x = gaussian(static_cast<std::size_t>(n_tokens * n_cols), 78);
  std::vector<double> ref, mag;
  reference(m, x, n_tokens, ref, mag);
  BackendOptions opts;
  opts.n_threads = 2;
  const std::unique_ptr<Backend> be = make_cpu_backend(opts);
  const WeightView w = m.view();
  ASSERT_TRUE(be->prepare_weights(std::span<const WeightView>(&w, 1)).ok());
  std::vector<float> y(static_cast<std::size_t>(n_tokens * n_rows));
  be->matmul(w, x.data(), n_tokens, y.data());
  for (std::size_t i = 0; i < y.size(); ++i)
    ASSERT_NEAR(y[i], ref[i], rel * mag[i] + 1e-5) << type_name(type) << " tokens " << n_tokens << " at " << i;
}

TEST(CpuMatmul, BackendEntryAllTypes) {
  for (std::int64_t nt : {1, 5, 40}) {
    check_backend(TensorType::F32, 11, 96, nt, 1e-5);
    check_backend(TensorType::F16, 11, 96, nt, 1e-5);
    check_backend(TensorType::BF16, 11, 96, nt, 1e-5);
    // Quantized activations: relative error of Q8 rounding (about 1/127 per element, averaging out).
    for (TensorType t : {TensorType::Q8_0, TensorType::Q4_0, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K})
      check_backend(t, 11, 256, nt, 2e-2);
  }
}

TEST(CpuMatmul, F32TilesOnOddShapes) {
  // Rows and tokens around the 4-row x 3-token float tiles, columns not a multiple of 8, row
  // counts across the 16-row tasks.
  for (std::int64_t rows : {1, 3, 4, 5, 17, 35})
    for (std::int64_t cols : {7, 8, 67, 256})
      for (std::int64_t nt : {1, 2, 3, 4, 7, 9}) check_backend(TensorType::F32, rows, cols, nt, 1e-5);
}

// matmul_many (one activation conversion, one parallel loop for one token) gives exactly what
// separate matmul calls give, and counts the same weight bytes; mixed activation types fall back.
TEST(CpuMatmul, ManyEqualsSeparateCalls) {
  BackendOptions opts;
  opts.n_threads = 2;
  for (const std::vector<TensorType>& types :
       {std::vector<TensorType>{TensorType::Q8_0, TensorType::Q8_0, TensorType::Q8_0},
        std::vector<TensorType>{TensorType::Q4_K, TensorType::Q6_K}, std::vector<TensorType>{TensorType::Q8_0, TensorType::Q4_K},
        std::vector<TensorType>{TensorType::F32, TensorType::Q8_0}}) {
    std::vector<Matrix> ms;
    const std::int64_t rows[] = {37, 8, 101};
    for (std::size_t i = 0; i < types.size(); ++i)
      ms.push_back(make_matrix(types[i], rows[i], 512, 200 + static_cast<std::uint32_t>(i)));
    for (std::int64_t nt : {1, 2, 5}) {
      const std::vector<float> x = gaussian(static_cast<std::size_t>(nt * 512), 300);
      const std::unique_ptr<Backend> be = make_cpu_backend(opts);
      std::vector<WeightView> views;
      for (const Matrix& m : ms) views.push_back(m.view());
      ASSERT_TRUE(be->prepare_weights(views).ok());
      std::vector<std::vector<float>> separate(ms.size()), many(ms.size());
      const std::uint64_t bytes0 = be->stats().weight_bytes_read;
      for (std::size_t i = 0; i < ms.size(); ++i) {
        separate[i].assign(static_cast<std::size_t>(nt * ms[i].n_rows), 0.0f);
        be->matmul(views[i], x.data(), nt, separate[i].data());
      }
      const std::uint64_t bytes1 = be->stats().weight_bytes_read;
      std::vector<Backend::MatmulOut> outs;
      for (std::size_t i = 0; i < ms.size(); ++i) {
        many[i].assign(separate[i].size(), std::numeric_limits<float>::quiet_NaN());
        outs.push_back({&views[i], many[i].data()});
      }
      be->matmul_many(outs, x.data(), nt);
      EXPECT_EQ(be->stats().weight_bytes_read - bytes1, bytes1 - bytes0);
      for (std::size_t i = 0; i < ms.size(); ++i)
        for (std::size_t j = 0; j < many[i].size(); ++j)
          ASSERT_EQ(many[i][j], separate[i][j]) << type_name(types[i]) << " matrix " << i << " tokens " << nt << " at " << j;
    }
  }
}

TEST(CpuMatmul, NonFiniteActivationsPropagate) {
  const Matrix m = make_matrix(TensorType::Q8_0, 8, 64, 91);
  std::vector<float> x = gaussian(2 * 64, 92);
  x[64 + 5] = std::numeric_limits<float>::quiet_NaN();  // token 1 only
  BackendOptions opts;
  opts.n_threads = 2;
  const std::unique_ptr<Backend> be = make_cpu_backend(opts);
  const WeightView w = m.view();
  ASSERT_TRUE(be->prepare_weights(std::span<const WeightView>(&w, 1)).ok());
  std::vector<float> y(2 * 8);
  be->matmul(w, x.data(), 2, y.data());
  for (int r = 0; r < 8; ++r) {
    EXPECT_TRUE(std::isfinite(y[static_cast<std::size_t>(r)])) << r;
    EXPECT_TRUE(std::isnan(y[static_cast<std::size_t>(8 + r)])) << r;
  }
}

}  // namespace
}  // namespace rapide::inference::cpu
