// `rapide gguf info` end to end: the real binary on the real files in ../shared, text and JSON,
// a vocabulary-only file, and errors (exit code 1, message on stderr, nothing on stdout).
#include "gguf_test_util.h"
#include "rapide/inference/gguf_writer.h"
#include "test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

namespace rapide::inference::gguf {
namespace {

using rapide::testing::run_process;

void expect_contains(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << "expected to find \"" << part << "\" in:\n" << text;
}

TEST(GgufInfoCli, StoriesModelAsText) {
  RAPIDE_REQUIRE_SHARED(path, "models/stories260K.gguf");
  auto r = run_process({RAPIDE_BINARY, "gguf", "info", path.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  expect_contains(r.out, "GGUF v3");
  expect_contains(r.out, "19 metadata keys, 48 tensors");
  expect_contains(r.out, "architecture: llama");
  expect_contains(r.out, "llama.block_count = 5");
  expect_contains(r.out, "llama.embedding_length = 64");
  expect_contains(r.out, "llama.attention.head_count_kv = 4");
  expect_contains(r.out, "model: llama, pre: (absent)");
  expect_contains(r.out, "vocab: 512 tokens, merges: 0");
  expect_contains(r.out, "bos = 1 \"<s>\"");
  expect_contains(r.out, "eos = 2 \"</s>\"");
  // The tensor table: name, type, shape, bytes.
  expect_contains(r.out, "blk.0.ffn_down.weight");
  expect_contains(r.out, "[172, 64]");
  expect_contains(r.out, "44,032");  // 172 * 64 * 4 bytes
  expect_contains(r.out, "F32: 48 tensors");
}

TEST(GgufInfoCli, StoriesModelAsJson) {
  RAPIDE_REQUIRE_SHARED(path, "models/stories260K.gguf");
  auto r = run_process({RAPIDE_BINARY, "gguf", "info", "--json", path.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("architecture").get<std::string>(), "llama");
  EXPECT_EQ(j.at("version").get<int>(), 3);
  EXPECT_EQ(j.at("data_offset").get<std::uint64_t>(), 14176u);
  EXPECT_EQ(j.at("hyperparameters").at("llama.block_count").get<int>(), 5);
  EXPECT_EQ(j.at("hyperparameters").at("llama.context_length").get<int>(), 2048);
  EXPECT_EQ(j.at("tokenizer").at("model").get<std::string>(), "llama");
  EXPECT_EQ(j.at("tokenizer").at("vocab_size").get<int>(), 512);
  EXPECT_EQ(j.at("tokenizer").at("special").at("bos").at("id").get<int>(), 1);
  const auto& tensors = j.at("tensors");
  ASSERT_EQ(tensors.size(), 48u);
  std::uint64_t params = 0, bytes = 0;
  bool found = false;
  for (const auto& t : tensors) {
    params += t.at("elements").get<std::uint64_t>();
    bytes += t.at("bytes").get<std::uint64_t>();
    if (t.at("name").get<std::string>() == "blk.0.ffn_down.weight") {
      found = true;
      EXPECT_EQ(t.at("type").get<std::string>(), "F32");
      EXPECT_EQ(t.at("shape"), nlohmann::json::array({172, 64}));
      EXPECT_EQ(t.at("bytes").get<std::uint64_t>(), 172u * 64u * 4u);
    }
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(j.at("totals").at("parameters").get<std::uint64_t>(), params);
  EXPECT_EQ(j.at("totals").at("bytes").get<std::uint64_t>(), bytes);
  EXPECT_EQ(j.at("totals").at("by_type").at("F32").at("tensors").get<int>(), 48);
  EXPECT_EQ(j.at("totals").at("by_type").at("F32").at("bytes").get<std::uint64_t>(), bytes);
}

TEST(GgufInfoCli, VocabOnlyFile) {
  RAPIDE_REQUIRE_SHARED(path, "vocab/ggml-vocab-qwen2.gguf");
  auto t = run_process({RAPIDE_BINARY, "gguf", "info", path.string()});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  expect_contains(t.out, "0 tensors (vocabulary only)");
  expect_contains(t.out, "model: gpt2, pre: qwen2");
  expect_contains(t.out, "vocab: 151,936 tokens");
  expect_contains(t.out, "parameters: 0");
  auto r = run_process({RAPIDE_BINARY, "gguf", "info", path.string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j.at("tensors").empty());
  EXPECT_EQ(j.at("tokenizer").at("pre").get<std::string>(), "qwen2");
  EXPECT_EQ(j.at("tokenizer").at("vocab_size").get<int>(), 151936);
  EXPECT_GT(j.at("tokenizer").at("merges").get<int>(), 100000);
  EXPECT_EQ(j.at("totals").at("parameters").get<int>(), 0);
}

TEST(GgufInfoCli, ErrorsGoToStderrWithExitCode1) {
  auto missing = run_process({RAPIDE_BINARY, "gguf", "info", "/nonexistent/model.gguf"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(missing.out.empty()) << missing.out;
  expect_contains(missing.err, "rapide gguf info: cannot open '/nonexistent/model.gguf'");

  // A truncated model written by GgufWriter.
  rapide::testing::TempDir dir;
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  std::vector<std::uint8_t> data(1024, 7);
  ASSERT_TRUE(w.add_tensor("token_embd.weight", TensorType::F32, {16, 16}, data));
  auto bytes = w.write_to_memory();
  ASSERT_TRUE(bytes) << bytes.message();
  const auto path = dir.path() / "truncated.gguf";
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes->data()), static_cast<std::streamsize>(bytes->size() - 100));
  }
  auto truncated = run_process({RAPIDE_BINARY, "gguf", "info", path.string()});
  EXPECT_EQ(truncated.exit_code, 1);
  EXPECT_TRUE(truncated.out.empty()) << truncated.out;
  expect_contains(truncated.err, "tensor 'token_embd.weight'");
  expect_contains(truncated.err, "truncated file?");

  const auto text = dir.path() / "text.gguf";
  std::ofstream(text) << "not a model";
  auto not_gguf = run_process({RAPIDE_BINARY, "gguf", "info", "--json", text.string()});
  EXPECT_EQ(not_gguf.exit_code, 1);
  expect_contains(not_gguf.err, "bad magic");

  auto no_file = run_process({RAPIDE_BINARY, "gguf", "info"});
  EXPECT_NE(no_file.exit_code, 0);
  expect_contains(no_file.err, "file is required");
}

}  // namespace
}  // namespace rapide::inference::gguf
