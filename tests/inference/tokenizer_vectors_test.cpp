// llama.cpp's tokenizer test vectors (../shared/vocab/ggml-vocab-*.gguf with .inp/.out): every
// case must give exactly the expected ids, with add_special = false and parse_special = false,
// as llama.cpp's test-tokenizer-0 runs them. Skips when ../shared is absent.
#include "rapide/inference/gguf.h"
#include "rapide/inference/tokenizer.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace rapide::inference {
namespace {

std::string read_all(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Cases separated by "\n__ggml_vocab_test__\n" (see vocab/FORMAT.md).
std::vector<std::string> read_cases(const std::filesystem::path& p) {
  const std::string all = read_all(p);
  const std::string delim = "\n__ggml_vocab_test__\n";
  std::vector<std::string> cases;
  std::size_t pos = 0;
  while (pos < all.size()) {
    const std::size_t d = all.find(delim, pos);
    if (d == std::string::npos) {
      cases.push_back(all.substr(pos));
      break;
    }
    cases.push_back(all.substr(pos, d - pos));
    pos = d + delim.size();
  }
  return cases;
}

std::vector<std::vector<std::int32_t>> read_expected(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::vector<std::vector<std::int32_t>> out;
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream ls(line);
    std::vector<std::int32_t> ids;
    long long id = 0;
    while (ls >> id) ids.push_back(static_cast<std::int32_t>(id));
    out.push_back(std::move(ids));
  }
  return out;
}

std::string show(const std::vector<std::int32_t>& ids) {
  std::string s;
  for (auto id : ids) {
    s.push_back(' ');
    s.append(std::to_string(id));
  }
  return s;
}

class VocabVectors : public ::testing::TestWithParam<const char*> {};

TEST_P(VocabVectors, MatchLlamaCpp) {
  const std::string name = std::string("vocab/ggml-vocab-") + GetParam() + ".gguf";
  RAPIDE_REQUIRE_SHARED(gguf_path, name);
  RAPIDE_REQUIRE_SHARED(inp_path, name + ".inp");
  RAPIDE_REQUIRE_SHARED(out_path, name + ".out");
  auto file = gguf::GgufFile::open(gguf_path);
  ASSERT_TRUE(file) << file.message();
  auto tok = Tokenizer::from_gguf(**file);
  ASSERT_TRUE(tok) << tok.message();
  const auto cases = read_cases(inp_path);
  const auto expected = read_expected(out_path);
  ASSERT_EQ(cases.size(), expected.size());
  ASSERT_GE(cases.size(), 46u);
  int failures = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto got = (*tok)->encode(cases[i], false, false);
    if (got != expected[i]) ++failures;
    EXPECT_EQ(got, expected[i]) << "case " << i << " '" << cases[i] << "'\n got:" << show(got)
                                << "\nwant:" << show(expected[i]);
  }
  EXPECT_EQ(failures, 0);

  // The same cases from several threads at once (the Tokenizer is shared and immutable).
  std::vector<std::thread> threads;
  std::vector<int> bad(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (std::size_t i = 0; i < cases.size(); ++i)
        if ((*tok)->encode(cases[i], false, false) != expected[i]) ++bad[t];
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(bad[t], 0) << "thread " << t;
}

INSTANTIATE_TEST_SUITE_P(Shared, VocabVectors,
                         ::testing::Values("qwen2", "llama-bpe", "deepseek-coder", "deepseek-llm", "falcon", "gpt-2",
                                           "mpt", "refact", "starcoder", "llama-spm", "phi-3", "bert-bge"),
                         [](const ::testing::TestParamInfo<const char*>& param_info) {
                           std::string s = param_info.param;
                           for (char& c : s)
                             if (c == '-') c = '_';
                           return s;
                         });

}  // namespace
}  // namespace rapide::inference
