// The forward pass against a naive reference (every architecture, MoE, sliding window, tied
// output, RoPE scaling), KV-cache behaviour (prefill = decode, truncate, several sequences in one
// batch) and the quantized matrix products per weight type.
#include "model_builder.h"
#include "rapide/inference/backend.h"
#include "rapide/inference/model.h"
#include "rapide/inference/moe_math.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace rapide::inference {
namespace {

using testing::open_tiny;
using testing::reference_forward;
using testing::TinySpec;

std::vector<std::int32_t> random_tokens(int n, int n_vocab, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(0, n_vocab - 1);
  std::vector<std::int32_t> t(static_cast<std::size_t>(n));
  for (auto& x : t) x = d(rng);
  return t;
}

std::unique_ptr<Model> load(std::shared_ptr<const gguf::GgufFile> f, int threads = 2) {
  LoadOptions o;
  o.n_threads = threads;
  auto m = Model::load(std::move(f), o);
  EXPECT_TRUE(m) << m.message();
  return m ? std::move(*m) : nullptr;
}

// Logits for all rows of one prefill from an empty cache.
std::vector<float> prefill_all(Model& m, const std::vector<std::int32_t>& tokens) {
  auto kv = m.new_kv_cache(static_cast<std::int32_t>(tokens.size()) + 8);
  EXPECT_TRUE(kv);
  std::vector<std::int32_t> rows(tokens.size());
  std::iota(rows.begin(), rows.end(), 0);
  std::vector<float> logits(tokens.size() * static_cast<std::size_t>(m.config().n_vocab));
  Model::SequenceBatch b{kv->get(), tokens, rows, logits.data()};
  Status st = m.forward({&b, 1});
  EXPECT_TRUE(st) << st.message();
  EXPECT_EQ((*kv)->size(), static_cast<std::int32_t>(tokens.size()));
  return logits;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) d = std::max(d, std::abs(double(a[i]) - b[i]));
  return d;
}

double max_abs(const std::vector<float>& a) {
  double m = 0;
  for (float v : a) m = std::max(m, std::abs(double(v)));
  return m;
}

struct ArchCase {
  const char* name;
  TinySpec spec;
};

std::vector<ArchCase> arch_cases() {
  std::vector<ArchCase> v;
  TinySpec llama;
  v.push_back({"llama", llama});
  TinySpec qwen2;
  qwen2.arch = "qwen2";
  v.push_back({"qwen2", qwen2});
  TinySpec qwen3;
  qwen3.arch = "qwen3";
  qwen3.head_dim = 16;  // head_dim * n_head != n_embd, as in real Qwen3 models
  v.push_back({"qwen3", qwen3});
  TinySpec moe;
  moe.arch = "qwen3moe";
  moe.n_expert = 8;
  moe.n_expert_used = 2;
  moe.n_ff_exp = 24;
  v.push_back({"qwen3moe", moe});
  TinySpec mixtral;
  mixtral.n_expert = 4;
  mixtral.n_expert_used = 2;
  mixtral.n_ff_exp = 40;
  v.push_back({"llama_mixtral_experts", mixtral});
  TinySpec tied;
  tied.tied_output = true;
  tied.n_head_kv = 4;
  v.push_back({"llama_tied_output_mha", tied});
  TinySpec swa;
  swa.sliding_window = 5;
  v.push_back({"llama_sliding_window", swa});
  TinySpec linear;
  linear.arch = "qwen2";
  linear.linear_rope_factor = 4.0f;
  linear.rope_freq_base = 1e6f;
  v.push_back({"qwen2_linear_rope", linear});
  return v;
}

class ForwardVsReference : public ::testing::TestWithParam<ArchCase> {};

TEST_P(ForwardVsReference, MatchesNaiveReference) {
  const TinySpec& spec = GetParam().spec;
  auto file = open_tiny(spec);
  auto model = load(file);
  ASSERT_TRUE(model);
  // 150 tokens: more than two attention tiles, and well past the sliding window.
  const auto tokens = random_tokens(150, spec.n_vocab, 7);
  const auto ours = prefill_all(*model, tokens);
  const auto ref = reference_forward(*file, model->config(), tokens);
  // KV cache is F16 (as llama.cpp's): allow its rounding.
  EXPECT_LT(max_abs_diff(ours, ref), 2e-3 * std::max(1.0, max_abs(ref))) << GetParam().name;
}

TEST_P(ForwardVsReference, DecodeOneByOneEqualsPrefill) {
  const TinySpec& spec = GetParam().spec;
  auto model = load(open_tiny(spec));
  ASSERT_TRUE(model);
  const auto tokens = random_tokens(40, spec.n_vocab, 3);
  const auto all = prefill_all(*model, tokens);
  auto kv = model->new_kv_cache(64);
  ASSERT_TRUE(kv);
  const std::size_t nv = static_cast<std::size_t>(spec.n_vocab);
  std::vector<float> step(nv);
  const std::int32_t row0 = 0;
  for (std::size_t t = 0; t < tokens.size(); ++t) {
    Model::SequenceBatch b{kv->get(), {&tokens[t], 1}, {&row0, 1}, step.data()};
    ASSERT_TRUE(model->forward({&b, 1}));
    for (std::size_t i = 0; i < nv; ++i) ASSERT_NEAR(step[i], all[t * nv + i], 1e-4) << "token " << t;
  }
}

INSTANTIATE_TEST_SUITE_P(Archs, ForwardVsReference, ::testing::ValuesIn(arch_cases()),
                         [](const ::testing::TestParamInfo<ArchCase>& i) { return std::string(i.param.name); });

TEST(ModelForward, TruncateRollsBackAndRecomputes) {
  TinySpec spec;
  spec.arch = "qwen2";
  auto model = load(open_tiny(spec));
  ASSERT_TRUE(model);
  const auto a = random_tokens(20, spec.n_vocab, 11), b = random_tokens(6, spec.n_vocab, 12);
  const std::size_t nv = static_cast<std::size_t>(spec.n_vocab);
  auto kv = model->new_kv_cache(32);
  ASSERT_TRUE(kv);
  const std::int32_t last = 5;
  std::vector<float> first(nv), second(nv);
  Model::SequenceBatch p{kv->get(), a, {}, nullptr};
  ASSERT_TRUE(model->forward({&p, 1}));
  (*kv)->truncate(14);
  EXPECT_EQ((*kv)->size(), 14);
  Model::SequenceBatch q{kv->get(), b, {&last, 1}, first.data()};
  ASSERT_TRUE(model->forward({&q, 1}));
  EXPECT_EQ((*kv)->size(), 20);
  // Cold: the 14-token prefix, then b.
  std::vector<std::int32_t> cold(a.begin(), a.begin() + 14);
  cold.insert(cold.end(), b.begin(), b.end());
  const auto all = prefill_all(*model, cold);
  for (std::size_t i = 0; i < nv; ++i) EXPECT_NEAR(first[i], all[19 * nv + i], 1e-4);
}

TEST(ModelForward, SeveralSequencesInOneBatchEqualSeparateRuns) {
  TinySpec spec;
  spec.arch = "qwen3moe";
  spec.n_expert = 6;
  spec.n_expert_used = 2;
  spec.n_ff_exp = 16;
  auto model = load(open_tiny(spec));
  ASSERT_TRUE(model);
  const std::size_t nv = static_cast<std::size_t>(spec.n_vocab);
  const auto a = random_tokens(9, spec.n_vocab, 1), b = random_tokens(4, spec.n_vocab, 2);
  auto ka = model->new_kv_cache(16), kb = model->new_kv_cache(16);
  ASSERT_TRUE(ka && kb);
  const std::int32_t ra[] = {2, 8}, rb[] = {3};
  std::vector<float> la(2 * nv), lb(nv);
  Model::SequenceBatch batch[2] = {{ka->get(), a, ra, la.data()}, {kb->get(), b, rb, lb.data()}};
  ASSERT_TRUE(model->forward(batch));
  const auto sa = prefill_all(*model, a), sb = prefill_all(*model, b);
  for (std::size_t i = 0; i < nv; ++i) {
    EXPECT_NEAR(la[i], sa[2 * nv + i], 1e-4);
    EXPECT_NEAR(la[nv + i], sa[8 * nv + i], 1e-4);
    EXPECT_NEAR(lb[i], sb[3 * nv + i], 1e-4);
  }
  EXPECT_EQ((*ka)->size(), 9);
  EXPECT_EQ((*kb)->size(), 4);
}

TEST(ModelForward, ThreadCountDoesNotChangeResults) {
  TinySpec spec;
  spec.arch = "qwen3";
  const auto tokens = random_tokens(30, spec.n_vocab, 5);
  auto file = open_tiny(spec);
  auto one = load(file, 1), three = load(file, 3);
  ASSERT_TRUE(one && three);
  EXPECT_EQ(prefill_all(*one, tokens), prefill_all(*three, tokens));
}

TEST(ModelForward, BadRequestsAreErrorsAndLeaveTheCacheAlone) {
  TinySpec spec;
  auto model = load(open_tiny(spec));
  ASSERT_TRUE(model);
  auto kv = model->new_kv_cache(4);
  ASSERT_TRUE(kv);
  std::vector<float> logits(static_cast<std::size_t>(spec.n_vocab));
  const std::vector<std::int32_t> bad = {1, 2, 64};
  Model::SequenceBatch b{kv->get(), bad, {}, nullptr};
  Status st = model->forward({&b, 1});
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("token 2 has id 64"), std::string::npos) << st.message();
  const std::vector<std::int32_t> five = {1, 2, 3, 4, 5};
  Model::SequenceBatch c{kv->get(), five, {}, nullptr};
  st = model->forward({&c, 1});
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("capacity 4"), std::string::npos) << st.message();
  const std::int32_t row = 3;
  Model::SequenceBatch d{kv->get(), {five.data(), 2}, {&row, 1}, logits.data()};
  st = model->forward({&d, 1});
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("logit row 3"), std::string::npos) << st.message();
  EXPECT_EQ((*kv)->size(), 0);
}

// Matrix products on every supported weight type against dequantize + plain dot, with odd row
// counts and token counts that exercise the row blocks and token tiles.
TEST(CpuMatmul, EveryWeightTypeMatchesDequantizedReference) {
  const TensorType types[] = {TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q8_0,
                              TensorType::Q4_0, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K};
  for (TensorType type : types) {
    TinySpec spec;
    spec.n_embd = 256;
    spec.n_head = 4;
    spec.n_head_kv = 4;
    spec.n_ff = 256;
    spec.n_vocab = 37;  // odd row count
    spec.n_layer = 1;
    spec.matrix_type = type;
    auto file = open_tiny(spec);
    auto model = load(file, 3);
    ASSERT_TRUE(model) << tensor_type_traits(type).name;
    const gguf::TensorInfo* t = file->find_tensor("output.weight");
    ASSERT_EQ(t->type, type);
    WeightView w;
    w.type = type;
    w.data = file->tensor_data(*t).data();
    w.n_cols = 256;
    w.n_rows = 37;
    w.row_bytes = *tensor_row_bytes(type, 256);
    w.name = t->name;
    // Reference rows via a 1-token get_rows on the same backend (the dequantizer) + double dot.
    Backend& be = model->backend();
    std::vector<float> rows(37 * 256);
    std::vector<std::int32_t> ids(37);
    std::iota(ids.begin(), ids.end(), 0);
    be.get_rows(w, ids, rows.data());
    for (std::int64_t n_tokens : {1, 3, 13}) {
      std::mt19937 rng(9);
      std::uniform_real_distribution<float> u(-1, 1);
      std::vector<float> x(static_cast<std::size_t>(n_tokens * 256)), y(static_cast<std::size_t>(n_tokens * 37));
      for (auto& v : x) v = u(rng);
      be.matmul(w, x.data(), n_tokens, y.data());
      for (std::int64_t tt = 0; tt < n_tokens; ++tt)
        for (int r = 0; r < 37; ++r) {
          double s = 0, mag = 0;
          for (int i = 0; i < 256; ++i) {
            s += double(rows[r * 256 + i]) * x[tt * 256 + i];
            mag += std::abs(double(rows[r * 256 + i]) * x[tt * 256 + i]);
          }
          // Block types multiply Q8-quantized activations (as llama.cpp): allow that rounding.
          const bool exact = type == TensorType::F32 || type == TensorType::F16 || type == TensorType::BF16;
          ASSERT_NEAR(y[tt * 37 + r], s, (exact ? 1e-5 : 1e-2) * mag + 1e-5) << tensor_type_traits(type).name;
        }
    }
    // And the whole model runs on it.
    const auto logits = prefill_all(*model, random_tokens(5, 37, 1));
    for (float v : logits) ASSERT_TRUE(std::isfinite(v)) << tensor_type_traits(type).name;
  }
}

// MoE: only the routed experts' weights are read, and routing equals a naive sort.
TEST(ModelMoe, ReadsOnlyTheRoutedExperts) {
  TinySpec spec;
  spec.arch = "qwen3moe";
  spec.n_expert = 16;
  spec.n_expert_used = 2;
  spec.n_ff_exp = 32;
  spec.n_layer = 3;
  auto model = load(open_tiny(spec));
  ASSERT_TRUE(model);
  auto kv = model->new_kv_cache(8);
  ASSERT_TRUE(kv);
  const std::int32_t tok = 5;
  BackendStats& st = model->backend().stats();
  st = {};
  Model::SequenceBatch b{kv->get(), {&tok, 1}, {}, nullptr};
  ASSERT_TRUE(model->forward({&b, 1}));
  // One expert = gate + up + down matrices of F32.
  const std::uint64_t expert_bytes = 3ull * spec.n_ff_exp * spec.n_embd * 4;
  const std::uint64_t dense_equivalent = expert_bytes * spec.n_expert * spec.n_layer;
  EXPECT_EQ(st.expert_weight_bytes_read, expert_bytes * spec.n_expert_used * spec.n_layer);
  EXPECT_EQ(st.expert_weight_bytes_read * spec.n_expert / spec.n_expert_used, dense_equivalent);
  std::printf("expert bytes read per token: %llu (dense equivalent %llu)\n",
              static_cast<unsigned long long>(st.expert_weight_bytes_read),
              static_cast<unsigned long long>(dense_equivalent));
}

TEST(ModelMoe, RoutingMatchesNaiveSoftmaxTopK) {
  std::mt19937 rng(4);
  std::normal_distribution<float> nd(0, 2);
  for (int trial = 0; trial < 200; ++trial) {
    const int ne = 3 + trial % 30, k = 1 + trial % std::min(ne, 8);
    std::vector<float> logits(static_cast<std::size_t>(ne)), probs(static_cast<std::size_t>(ne)), w(static_cast<std::size_t>(k));
    std::vector<std::int32_t> ids(static_cast<std::size_t>(k));
    for (auto& v : logits) v = nd(rng);
    if (trial % 7 == 0) logits[1] = logits[0];  // a tie: lower index first
    const bool norm = trial % 2 == 0;
    moe_route(logits.data(), ne, k, norm, probs.data(), ids.data(), w.data());
    std::vector<double> p(logits.begin(), logits.end());
    const double mx = *std::max_element(p.begin(), p.end());
    double sum = 0;
    for (auto& v : p) sum += (v = std::exp(v - mx));
    for (auto& v : p) v /= sum;
    std::vector<int> idx(static_cast<std::size_t>(ne));
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return p[a] > p[b]; });
    double ws = 0;
    for (int j = 0; j < k; ++j) ws += p[idx[j]];
    for (int j = 0; j < k; ++j) {
      EXPECT_EQ(ids[j], idx[j]) << "trial " << trial;
      EXPECT_NEAR(w[j], norm ? p[idx[j]] / ws : p[idx[j]], 1e-6);
    }
  }
}

}  // namespace
}  // namespace rapide::inference
