// make_model as a library: tensor plans per architecture, llama.cpp's Q4_K_M type choices and
// fallbacks, argument parsing errors, determinism and weight statistics.
#include "gguf_test_util.h"
#include "rapide/inference/gguf.h"
#include "rapide/inference/make_model.h"
#include "rapide/inference/quant.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>

namespace rapide::inference {
namespace {

using gguf::GgufFile;

std::vector<std::uint8_t> read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

MakeModelOptions tiny_options(const std::string& arch, const std::filesystem::path& vocab, const std::filesystem::path& out,
                              std::string_view type = "f32") {
  MakeModelOptions o;
  auto d = preset_dims("tiny", arch);
  EXPECT_TRUE(d) << d.message();
  o.dims = *d;
  o.format = *parse_weight_format(type);
  o.vocab = vocab;
  o.output = out;
  o.seed = 42;
  return o;
}

TEST(MakeModel, Q4KMMixFollowsLlamaCpp) {
  const WeightFormat m{TensorType::Q4_K, true};
  // Qwen2.5-Coder-1.5B: 28 layers, rows of 1536 (multiple of 256).
  auto type = [&](const std::string& name, std::vector<std::int64_t> dims, bool tied = true, std::int64_t n_expert = 0) {
    return choose_tensor_type(m, name, dims, 28, n_expert, tied);
  };
  EXPECT_EQ(type("token_embd.weight", {1536, 151936}), TensorType::Q6_K);           // tied: the output's type
  EXPECT_EQ(type("token_embd.weight", {1536, 151936}, false), TensorType::Q4_K);    // untied: the default
  EXPECT_EQ(type("output.weight", {1536, 151936}, false), TensorType::Q6_K);
  EXPECT_EQ(type("output_norm.weight", {1536}), TensorType::F32);
  EXPECT_EQ(type("blk.5.attn_q.bias", {1536}), TensorType::F32);
  EXPECT_EQ(type("blk.5.attn_q_norm.weight", {128}), TensorType::F32);
  EXPECT_EQ(type("blk.5.attn_q.weight", {1536, 1536}), TensorType::Q4_K);
  // use_more_bits(i, 28): i < 3, i >= 24, or (i - 3) % 3 == 2.
  for (int i = 0; i < 28; ++i) {
    const bool more = i < 3 || i >= 24 || (i - 3) % 3 == 2;
    const std::string p = "blk." + std::to_string(i) + ".";
    EXPECT_EQ(type(p + "attn_v.weight", {1536, 256}), more ? TensorType::Q6_K : TensorType::Q4_K) << i;
    EXPECT_EQ(type(p + "ffn_down.weight", {8960, 1536}), more ? TensorType::Q6_K : TensorType::Q4_K) << i;  // 8960 = 35 * 256
    EXPECT_EQ(type(p + "ffn_up.weight", {1536, 8960}), TensorType::Q4_K) << i;
  }
  // Eight experts: attn_v/attn_k Q8_0, attn_output Q5_K; the router stays F32.
  EXPECT_EQ(type("blk.10.attn_v.weight", {1536, 256}, true, 8), TensorType::Q8_0);
  EXPECT_EQ(type("blk.10.attn_k.weight", {1536, 256}, true, 8), TensorType::Q8_0);
  EXPECT_EQ(type("blk.10.attn_output.weight", {1536, 1536}, true, 8), TensorType::Q5_K);
  EXPECT_EQ(type("blk.10.attn_output.weight", {1536, 1536}, true, 16), TensorType::Q4_K);
  EXPECT_EQ(type("blk.10.ffn_gate_inp.weight", {1536, 8}, true, 8), TensorType::F32);
  EXPECT_EQ(type("blk.0.ffn_down_exps.weight", {768, 1536, 8}, true, 8), TensorType::Q6_K);
}

TEST(MakeModel, RowsThatDoNotHoldWholeBlocksFallBackLikeLlamaCpp) {
  // Qwen2.5-Coder-0.5B rows are 896 = 3.5 * 256.
  const WeightFormat m{TensorType::Q4_K, true};
  EXPECT_EQ(choose_tensor_type(m, "blk.1.attn_q.weight", {896, 896}, 24, 0, true), TensorType::Q5_0);
  EXPECT_EQ(choose_tensor_type(m, "blk.0.attn_v.weight", {896, 128}, 24, 0, true), TensorType::Q8_0);  // Q6_K -> Q8_0
  EXPECT_EQ(choose_tensor_type(m, "token_embd.weight", {896, 151936}, 24, 0, true), TensorType::Q8_0);
  EXPECT_EQ(choose_tensor_type(m, "blk.0.ffn_down.weight", {4864, 896}, 24, 0, true), TensorType::Q6_K);  // 4864 = 19 * 256
  EXPECT_EQ(choose_tensor_type({TensorType::Q5_K, false}, "blk.1.attn_q.weight", {896, 896}, 24, 0, true), TensorType::Q5_1);
  EXPECT_EQ(choose_tensor_type({TensorType::Q6_K, false}, "blk.1.attn_q.weight", {896, 896}, 24, 0, true), TensorType::Q8_0);
  EXPECT_EQ(choose_tensor_type({TensorType::Q8_0, false}, "blk.1.attn_q.weight", {48, 896}, 24, 0, true), TensorType::F16);
  EXPECT_EQ(choose_tensor_type({TensorType::Q4_K, false}, "blk.1.attn_q.weight", {48, 48}, 24, 0, true), TensorType::F16);
  EXPECT_EQ(choose_tensor_type({TensorType::BF16, false}, "blk.1.attn_q.weight", {48, 48}, 24, 0, true), TensorType::BF16);
  EXPECT_EQ(choose_tensor_type({TensorType::BF16, false}, "blk.1.ffn_norm.weight", {48}, 24, 0, true), TensorType::F32);
}

TEST(MakeModel, ParsingErrorsAreClear) {
  EXPECT_FALSE(parse_weight_format("q3_k"));
  EXPECT_NE(parse_weight_format("q3_k").message().find("unknown --type 'q3_k'"), std::string::npos);
  EXPECT_EQ(weight_format_name(*parse_weight_format("q4_k_m")), "q4_k_m");
  EXPECT_EQ(weight_format_name(*parse_weight_format("bf16")), "bf16");

  EXPECT_NE(preset_dims("huge", "llama").message().find("unknown preset 'huge' (known: tiny, qwen2.5-coder-0.5b"), std::string::npos);
  EXPECT_NE(preset_dims("tiny", "").message().find("give --arch"), std::string::npos);
  EXPECT_NE(preset_dims("qwen2.5-coder-1.5b", "llama").message().find("is a qwen2 model, but --arch llama"), std::string::npos);
  auto q = preset_dims("qwen2.5-coder-1.5b", "");
  ASSERT_TRUE(q) << q.message();
  EXPECT_EQ(q->n_layer, 28);
  EXPECT_EQ(q->n_embd, 1536);
  EXPECT_EQ(q->n_ff, 8960);
  EXPECT_EQ(q->n_head, 12);
  EXPECT_EQ(q->n_head_kv, 2);
  EXPECT_EQ(q->n_vocab, 151936);
  EXPECT_EQ(q->rope_base, 1e6);
  EXPECT_EQ(q->rms_eps, 1e-6);
  EXPECT_TRUE(q->tied_output);

  ModelDims d = *preset_dims("tiny", "llama");
  EXPECT_TRUE(apply_dims(d, "n_layer=3,n_expert=8,n_expert_used=2,rope_base=5e5,tied=1"));
  EXPECT_EQ(d.n_layer, 3);
  EXPECT_EQ(d.n_expert, 8);
  EXPECT_EQ(d.rope_base, 5e5);
  EXPECT_TRUE(d.tied_output);
  EXPECT_TRUE(d.validate());
  EXPECT_NE(apply_dims(d, "n_layers=3").message().find("unknown key 'n_layers'"), std::string::npos);
  EXPECT_NE(apply_dims(d, "n_layer=x").message().find("n_layer wants an integer, got 'x'"), std::string::npos);
  EXPECT_NE(apply_dims(d, "n_layer").message().find("'n_layer' is not key=value"), std::string::npos);

  ModelDims bad = *preset_dims("tiny", "qwen2");
  bad.n_head_kv = 3;
  EXPECT_NE(bad.validate().message().find("n_head_kv must divide n_head"), std::string::npos);
  bad = *preset_dims("tiny", "qwen2");
  bad.n_expert = 4;
  bad.n_expert_used = 2;
  EXPECT_NE(bad.validate().message().find("'qwen2' has no experts"), std::string::npos);
  bad = *preset_dims("tiny", "qwen3moe");
  bad.n_expert_used = 5;
  EXPECT_NE(bad.validate().message().find("n_expert_used must be in [1, n_expert = 4], got 5"), std::string::npos);
  bad.arch = "gpt2";
  EXPECT_NE(bad.validate().message().find("unknown architecture 'gpt2'"), std::string::npos);
}

TEST(MakeModel, VocabMismatchAndMissingTokenizerAreErrors) {
  RAPIDE_REQUIRE_SHARED(stories, "models/stories260K.gguf");
  rapide::testing::TempDir dir;
  MakeModelOptions o;
  o.dims = *preset_dims("qwen2.5-coder-0.5b", "");
  o.vocab = stories;
  o.output = dir.path() / "x.gguf";
  auto r = make_model(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.message().find("vocabulary of 151936 tokens but --vocab"), std::string::npos) << r.message();
  EXPECT_NE(r.message().find("has 512"), std::string::npos) << r.message();
  EXPECT_NE(r.message().find("ggml-vocab-qwen2.gguf"), std::string::npos) << r.message();
  EXPECT_FALSE(std::filesystem::exists(o.output));

  // A GGUF without a tokenizer.
  gguf::GgufWriter w;
  w.set_string("general.architecture", "llama");
  ASSERT_TRUE(w.write(dir.path() / "no-tokenizer.gguf"));
  o = tiny_options("llama", dir.path() / "no-tokenizer.gguf", dir.path() / "y.gguf");
  r = make_model(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.message().find("has no tokenizer"), std::string::npos) << r.message();
  o.vocab = dir.path() / "absent.gguf";
  r = make_model(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.message().find("--vocab: cannot open"), std::string::npos) << r.message();
}

struct ArchCase {
  std::string arch;
  std::vector<std::string> must_have;
  std::vector<std::string> must_not_have;
};

TEST(MakeModel, TinyPresetHasTheTensorsAndKeysOfEachArchitecture) {
  RAPIDE_REQUIRE_SHARED(stories, "models/stories260K.gguf");
  rapide::testing::TempDir dir;
  const std::vector<ArchCase> cases = {
      {"llama", {"output.weight", "blk.1.ffn_gate.weight"}, {"blk.0.attn_q.bias", "blk.0.attn_q_norm.weight"}},
      {"qwen2", {"blk.0.attn_q.bias", "blk.0.attn_k.bias", "blk.1.attn_v.bias"}, {"output.weight", "blk.0.attn_q_norm.weight"}},
      {"qwen3", {"blk.0.attn_q_norm.weight", "blk.1.attn_k_norm.weight"}, {"blk.0.attn_q.bias", "blk.0.ffn_gate_exps.weight"}},
      {"qwen3moe", {"blk.0.ffn_gate_inp.weight", "blk.0.ffn_gate_exps.weight", "blk.1.ffn_down_exps.weight", "blk.0.attn_q_norm.weight"},
       {"blk.0.ffn_gate.weight"}},
  };
  auto vocab = GgufFile::open(stories);
  ASSERT_TRUE(vocab) << vocab.message();
  for (const ArchCase& c : cases) {
    const auto out = dir.path() / (c.arch + ".gguf");
    auto r = make_model(tiny_options(c.arch, stories, out));
    ASSERT_TRUE(r) << c.arch << ": " << r.message();
    auto f = GgufFile::open(out);
    ASSERT_TRUE(f) << f.message();
    const GgufFile& g = **f;
    EXPECT_EQ(g.architecture(), c.arch);
    EXPECT_EQ(g.get_uint(c.arch + ".block_count"), 2u);
    EXPECT_EQ(g.get_uint(c.arch + ".embedding_length"), 256u);
    EXPECT_EQ(g.get_uint(c.arch + ".attention.head_count"), 4u);
    EXPECT_EQ(g.get_uint(c.arch + ".attention.head_count_kv"), 2u);
    EXPECT_EQ(g.get_uint(c.arch + ".vocab_size"), 512u);
    EXPECT_TRUE(g.get_float(c.arch + ".rope.freq_base"));
    EXPECT_TRUE(g.get_float(c.arch + ".attention.layer_norm_rms_epsilon"));
    EXPECT_EQ(g.get_uint("general.file_type"), 0u);
    for (const std::string& n : c.must_have) EXPECT_NE(g.find_tensor(n), nullptr) << c.arch << ": " << n;
    for (const std::string& n : c.must_not_have) EXPECT_EQ(g.find_tensor(n), nullptr) << c.arch << ": " << n;
    const gguf::TensorInfo* embd = g.find_tensor("token_embd.weight");
    ASSERT_NE(embd, nullptr);
    EXPECT_EQ(embd->dims, (std::vector<std::int64_t>{256, 512}));
    EXPECT_EQ(g.find_tensor("blk.0.attn_q.weight")->dims, (std::vector<std::int64_t>{256, 256}));
    EXPECT_EQ(g.find_tensor("blk.0.attn_k.weight")->dims, (std::vector<std::int64_t>{256, 128}));
    if (c.arch == "qwen3moe") {
      EXPECT_EQ(g.get_uint("qwen3moe.expert_count"), 4u);
      EXPECT_EQ(g.get_uint("qwen3moe.expert_used_count"), 2u);
      EXPECT_EQ(g.get_uint("qwen3moe.expert_feed_forward_length"), 256u);
      EXPECT_EQ(g.find_tensor("blk.0.ffn_gate_exps.weight")->dims, (std::vector<std::int64_t>{256, 256, 4}));
      EXPECT_EQ(g.find_tensor("blk.0.ffn_down_exps.weight")->dims, (std::vector<std::int64_t>{256, 256, 4}));
      EXPECT_EQ(g.find_tensor("blk.0.ffn_gate_inp.weight")->dims, (std::vector<std::int64_t>{256, 4}));
    }
    // The tokenizer is the vocab file's, key for key.
    for (const gguf::KeyValue& kv : (*vocab)->metadata()) {
      if (!kv.key.starts_with("tokenizer.")) continue;
      const gguf::Value* got = g.find(kv.key);
      ASSERT_NE(got, nullptr) << kv.key;
      gguf::testing::expect_same_value(kv.value, *got, std::string(kv.key));
    }
  }
}

TEST(MakeModel, SameSeedSameBytesWhateverTheThreadCount) {
  RAPIDE_REQUIRE_SHARED(stories, "models/stories260K.gguf");
  rapide::testing::TempDir dir;
  MakeModelOptions o = tiny_options("qwen3moe", stories, dir.path() / "a.gguf", "q4_k_m");
  o.n_threads = 1;
  ASSERT_TRUE(make_model(o));
  o.output = dir.path() / "b.gguf";
  o.n_threads = 3;
  ASSERT_TRUE(make_model(o));
  o.output = dir.path() / "c.gguf";
  o.seed = 43;
  ASSERT_TRUE(make_model(o));
  const auto a = read_all(dir.path() / "a.gguf"), b = read_all(dir.path() / "b.gguf"), c = read_all(dir.path() / "c.gguf");
  EXPECT_GT(a.size(), 100000u);
  EXPECT_EQ(a, b);
  ASSERT_EQ(a.size(), c.size());
  EXPECT_NE(a, c);
}

TEST(MakeModel, EveryTypeWritesTheChosenTypesWithSaneWeights) {
  RAPIDE_REQUIRE_SHARED(stories, "models/stories260K.gguf");
  rapide::testing::TempDir dir;
  for (const char* type : {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", "q5_k", "q6_k", "q4_k_m"}) {
    const auto out = dir.path() / (std::string(type) + ".gguf");
    MakeModelOptions o = tiny_options("llama", stories, out, type);
    auto r = make_model(o);
    ASSERT_TRUE(r) << type << ": " << r.message();
    auto f = GgufFile::open(out);
    ASSERT_TRUE(f) << f.message();
    const GgufFile& g = **f;
    for (const gguf::TensorInfo& t : g.tensors()) {
      EXPECT_EQ(t.type, choose_tensor_type(o.format, t.name, t.dims, 2, 0, false)) << type << " " << t.name;
      // Dequantized rows have the planned statistics: norms exactly 1, weights std ~ 1/sqrt(fan_in).
      std::vector<float> row(static_cast<std::size_t>(t.dims[0]));
      const std::uint64_t row_bytes = *tensor_row_bytes(t.type, static_cast<std::uint64_t>(t.dims[0]));
      double sum = 0, sum2 = 0;
      std::uint64_t n = 0;
      const auto data = g.tensor_data(t);
      for (std::uint64_t r0 = 0; r0 < t.n_rows(); r0 += std::max<std::uint64_t>(1, t.n_rows() / 16)) {
        ASSERT_TRUE(dequantize_row(t.type, data.data() + r0 * row_bytes, row.data(), t.dims[0]));
        for (float v : row) {
          ASSERT_TRUE(std::isfinite(v)) << t.name;
          sum += v;
          sum2 += static_cast<double>(v) * v;
          ++n;
        }
      }
      const double mean = sum / static_cast<double>(n);
      const double sd = std::sqrt(sum2 / static_cast<double>(n) - mean * mean);
      if (t.name.find("norm") != std::string::npos) {
        EXPECT_EQ(mean, 1.0) << t.name;
        continue;
      }
      double want = 1.0 / std::sqrt(static_cast<double>(t.dims[0]));
      if (t.name.find("attn_output") != std::string::npos || t.name.find("ffn_down") != std::string::npos) want /= 2.0;  // 1/sqrt(2*2)
      EXPECT_NEAR(sd, want, want * 0.12) << type << " " << t.name;
      EXPECT_NEAR(mean, 0.0, want * 0.1) << type << " " << t.name;
    }
    if (std::string(type) == "q4_k_m") {
      EXPECT_EQ(g.get_uint("general.file_type"), 15u);
      EXPECT_EQ(g.get_uint("general.quantization_version"), 2u);
      EXPECT_EQ(g.find_tensor("output.weight")->type, TensorType::Q6_K);
      EXPECT_EQ(g.find_tensor("blk.0.attn_v.weight")->type, TensorType::Q4_K);  // use_more_bits(0, 2) is false
      EXPECT_EQ(g.find_tensor("blk.1.attn_v.weight")->type, TensorType::Q6_K);  // use_more_bits(1, 2) is true
      EXPECT_EQ(g.find_tensor("blk.0.attn_q.weight")->type, TensorType::Q4_K);
    }
  }
}

}  // namespace
}  // namespace rapide::inference
