// `rapide make-model` end to end: the tiny preset of every architecture (and Mixtral-style llama
// experts) is loaded by llama.cpp (bench/reference/gguf_load.mjs, skipped without node) and
// described by `rapide gguf info`; every --type loads in llama.cpp; bad arguments are clear errors.
#include "gguf_test_util.h"
#include "test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace rapide::inference::gguf {
namespace {

using rapide::testing::run_process;

void expect_contains(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << "expected to find \"" << part << "\" in:\n" << text;
}

struct Case {
  std::string arch;
  std::string vocab;      // under ../shared
  std::string dims;       // extra --dims
  std::vector<std::string> tensors;  // must be listed by gguf info
  std::int64_t n_vocab;
};

TEST(MakeModelCli, TinyPresetOfEachArchitectureLoadsInLlamaCpp) {
  RAPIDE_REQUIRE_SHARED(qwen_vocab, "vocab/ggml-vocab-qwen2.gguf");
  RAPIDE_REQUIRE_SHARED(llama_vocab, "vocab/ggml-vocab-llama-spm.gguf");
  rapide::testing::TempDir dir;
  const std::vector<Case> cases = {
      {"llama", llama_vocab.string(), "", {"output.weight", "blk.1.ffn_down.weight"}, 32000},
      {"llama", llama_vocab.string(), "n_expert=8,n_expert_used=2",
       {"blk.0.ffn_gate_inp.weight", "blk.0.ffn_gate_exps.weight", "blk.1.ffn_down_exps.weight", "blk.1.ffn_up_exps.weight"}, 32000},
      {"qwen2", qwen_vocab.string(), "", {"blk.0.attn_q.bias", "blk.1.attn_v.bias"}, 151936},
      {"qwen3", qwen_vocab.string(), "", {"blk.0.attn_q_norm.weight", "blk.1.attn_k_norm.weight"}, 151936},
      {"qwen3moe", qwen_vocab.string(), "", {"blk.0.ffn_gate_inp.weight", "blk.0.ffn_gate_exps.weight", "blk.0.attn_k_norm.weight"}, 151936},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.arch + " " + c.dims);
    const auto out = dir.path() / (c.arch + (c.dims.empty() ? "" : "-moe") + ".gguf");
    std::vector<std::string> argv = {RAPIDE_BINARY, "make-model", "--preset", "tiny", "--arch", c.arch, "--type", "q8_0",
                                     "--vocab", c.vocab, "--seed", "7", "-o", out.string()};
    if (!c.dims.empty()) {
      argv.push_back("--dims");
      argv.push_back(c.dims);
    }
    auto made = run_process(argv);
    ASSERT_EQ(made.exit_code, 0) << made.err;
    expect_contains(made.err, "wrote " + out.string());

    auto info = run_process({RAPIDE_BINARY, "gguf", "info", "--json", out.string()});
    ASSERT_EQ(info.exit_code, 0) << info.err;
    const auto j = nlohmann::json::parse(info.out);
    EXPECT_EQ(j.at("architecture").get<std::string>(), c.arch);
    EXPECT_EQ(j.at("tokenizer").at("vocab_size").get<std::int64_t>(), c.n_vocab);
    std::map<std::string, nlohmann::json> by_name;
    for (const auto& t : j.at("tensors")) by_name[t.at("name").get<std::string>()] = t;
    for (const std::string& name : c.tensors) EXPECT_TRUE(by_name.count(name)) << name;
    EXPECT_EQ(by_name.at("token_embd.weight").at("shape"), nlohmann::json::array({256, c.n_vocab}));
    EXPECT_EQ(by_name.at("blk.0.attn_q.weight").at("type").get<std::string>(), "Q8_0");
    EXPECT_EQ(by_name.at("blk.0.attn_norm.weight").at("type").get<std::string>(), "F32");
    if (by_name.count("blk.0.ffn_gate_inp.weight")) {
      EXPECT_EQ(by_name.at("blk.0.ffn_gate_inp.weight").at("type").get<std::string>(), "F32");
      const std::int64_t n_expert = c.arch == "llama" ? 8 : 4;
      EXPECT_EQ(by_name.at("blk.0.ffn_gate_exps.weight").at("shape").at(2).get<std::int64_t>(), n_expert);
      EXPECT_EQ(j.at("hyperparameters").at(c.arch + ".expert_count").get<std::int64_t>(), n_expert);
      EXPECT_EQ(j.at("hyperparameters").at(c.arch + ".expert_used_count").get<std::int64_t>(), 2);
    }

    auto ref = testing::run_llama_reference(out, "int main() {", 4);
    if (!ref.available) GTEST_SKIP() << ref.why_not;
    ASSERT_TRUE(ref.ok) << "llama.cpp did not load " << out << ": " << ref.raw;
    EXPECT_EQ(ref.json.at("architecture").get<std::string>(), c.arch);
    EXPECT_EQ(ref.json.at("n_vocab").get<std::int64_t>(), c.n_vocab);
    EXPECT_EQ(ref.json.at("n_embd").get<int>(), 256);
    EXPECT_EQ(ref.json.at("greedy").size(), 4u);
  }
}

TEST(MakeModelCli, EveryTypeLoadsInLlamaCpp) {
  RAPIDE_REQUIRE_SHARED(vocab, "models/stories260K.gguf");  // a 512-token vocabulary keeps these files small
  rapide::testing::TempDir dir;
  for (const char* type : {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", "q5_k", "q6_k", "q4_k_m"}) {
    SCOPED_TRACE(type);
    const auto out = dir.path() / (std::string(type) + ".gguf");
    auto made = run_process({RAPIDE_BINARY, "make-model", "--preset", "tiny", "--arch", "qwen3", "--type", type, "--vocab",
                             vocab.string(), "-o", out.string()});
    ASSERT_EQ(made.exit_code, 0) << made.err;
    auto ref = testing::run_llama_reference(out, "Once upon a time", 2);
    if (!ref.available) GTEST_SKIP() << ref.why_not;
    ASSERT_TRUE(ref.ok) << "llama.cpp did not load the " << type << " file: " << ref.raw;
    EXPECT_EQ(ref.json.at("n_vocab").get<int>(), 512);
  }
}

TEST(MakeModelCli, BadArgumentsAreClearErrors) {
  RAPIDE_REQUIRE_SHARED(vocab, "models/stories260K.gguf");
  rapide::testing::TempDir dir;
  const std::string out = (dir.path() / "m.gguf").string();
  const std::string v = vocab.string();
  struct Bad {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Bad> cases = {
      {{"--preset", "tiny", "--arch", "gpt5", "--vocab", v, "-o", out}, "unknown architecture 'gpt5'"},
      {{"--preset", "tiny", "--arch", "llama", "--type", "q3_k", "--vocab", v, "-o", out}, "unknown --type 'q3_k'"},
      {{"--preset", "huge", "--vocab", v, "-o", out}, "unknown preset 'huge'"},
      {{"--preset", "tiny", "--vocab", v, "-o", out}, "give --arch"},
      {{"--preset", "tiny", "--arch", "llama", "-o", out}, "--vocab VOCAB.gguf is required"},
      {{"--preset", "tiny", "--arch", "llama", "--vocab", v}, "-o FILE is required"},
      {{"--arch", "llama", "--vocab", v, "-o", out}, "give --preset NAME or --dims"},
      {{"--preset", "qwen2.5-coder-0.5b", "--vocab", v, "-o", out}, "vocabulary of 151936 tokens but --vocab"},
      {{"--preset", "tiny", "--arch", "llama", "--dims", "n_head=5", "--vocab", v, "-o", out}, "n_head_kv must divide n_head"},
      {{"--preset", "tiny", "--arch", "llama", "--dims", "layers=3", "--vocab", v, "-o", out}, "unknown key 'layers'"},
      {{"--dims", "n_embd=64,n_layer=1,n_ff=128,n_head=2", "--vocab", v, "-o", out}, "--dims needs --arch"},
      {{"--preset", "tiny", "--arch", "qwen2", "--vocab", (dir.path() / "none.gguf").string(), "-o", out}, "--vocab: cannot open"},
      {{"--preset", "tiny", "--arch", "qwen2", "--vocab", v, "-o", "/nonexistent-dir/m.gguf"}, "cannot create"},
  };
  for (const Bad& b : cases) {
    std::vector<std::string> argv = {RAPIDE_BINARY, "make-model"};
    argv.insert(argv.end(), b.args.begin(), b.args.end());
    auto r = run_process(argv);
    EXPECT_EQ(r.exit_code, 1) << b.message;
    expect_contains(r.err, "rapide make-model: ");
    expect_contains(r.err, b.message);
    EXPECT_FALSE(std::filesystem::exists(out)) << b.message;
  }
  // --dims alone (no preset) makes a model.
  auto ok = run_process({RAPIDE_BINARY, "make-model", "--arch", "llama", "--dims", "n_embd=64,n_layer=1,n_ff=128,n_head=2",
                         "--vocab", v, "-o", out});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  auto list = run_process({RAPIDE_BINARY, "make-model", "--list-presets"});
  EXPECT_EQ(list.exit_code, 0);
  expect_contains(list.out, "qwen2.5-coder-1.5b");
  expect_contains(list.out, "qwen3-moe-small");
}

}  // namespace
}  // namespace rapide::inference::gguf
