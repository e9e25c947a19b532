// Token ids against llama.cpp itself (node-llama-cpp 3.21.1 running bench/reference/tokenize.mjs)
// on a larger mixed text than the test vectors: this repository's own sources, many scripts,
// emoji, odd white space, long runs and special-token texts, with parse_special off and on.
// Skips with the reason when node, node_modules or ../shared is missing.
#include "rapide/inference/gguf.h"
#include "rapide/inference/tokenizer.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace rapide::inference {
namespace {

namespace fs = std::filesystem;
using testing::run_process;
using testing::TempDir;

std::optional<fs::path> find_node() {
  const char* path = std::getenv("PATH");
  if (!path) return std::nullopt;
  std::stringstream ss(path);
  std::string dir;
  while (std::getline(ss, dir, ':'))
    if (!dir.empty() && fs::exists(fs::path(dir) / "node")) return fs::path(dir) / "node";
  return std::nullopt;
}

std::string read_all(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string mixed_text() {
  std::string s;
  for (const char* f : {"inference/tokenizer/pre_tokenizer.cpp", "inference/tokenizer/bpe.cpp",
                        "bench/reference/tokenize.mjs"})
    s += read_all(fs::path(RAPIDE_SOURCE_DIR) / f);
  s += "Ünïcödé façade naïve — “quotes” … 日本語のテキスト、中文文本。한국어 Ελληνικά русский עברית العربية हिन्दी ไทย\n";
  s += "🦙🚀👩‍👩‍👧 \xc2\xa0" "nbsp\xe2\x80\x83" "em\xe3\x80\x80" "ideo\r\n\r\n\t\t  x  \n\n\n   \xc2\x85" "nel\n";
  s += "1234567890 12.5e-3 'S 'LL 'Ve don't I'M we'RE ½ ⅞ ² ٣٤٥ A\xcc\x81 e\xcc\x88 \xef\xac\x81\n";
  s += std::string(300, ' ') + "x" + std::string(500, 'a') + std::string(100, '\n') + std::string(70, '3') + "\n";
  s += "<|fim_prefix|>def f():<|fim_suffix|>\n<|fim_middle|> <|im_start|>user\nhi<|im_end|> <tool_call> <s> </s> "
       "<|begin_of_text|><|eot_id|> <\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c> <|endoftext|>  tail\n";
  return s;
}

std::vector<std::int32_t> read_ids(const fs::path& p) {
  std::ifstream f(p);
  std::vector<std::int32_t> ids;
  long long v = 0;
  while (f >> v) ids.push_back(static_cast<std::int32_t>(v));
  return ids;
}

class AgainstLlamaCpp : public ::testing::TestWithParam<const char*> {};

TEST_P(AgainstLlamaCpp, SameIds) {
  const auto node = find_node();
  if (!node) GTEST_SKIP() << "node is not on PATH: the llama.cpp reference cannot run";
  const fs::path ref = fs::path(RAPIDE_SOURCE_DIR) / "bench/reference";
  if (!fs::exists(ref / "node_modules/node-llama-cpp"))
    GTEST_SKIP() << "bench/reference/node_modules is missing (run scripts/setup.sh or npm ci there)";
  const std::string name = std::string("vocab/ggml-vocab-") + GetParam() + ".gguf";
  RAPIDE_REQUIRE_SHARED(model, name);

  auto file = gguf::GgufFile::open(model);
  ASSERT_TRUE(file) << file.message();
  auto tok = Tokenizer::from_gguf(**file);
  ASSERT_TRUE(tok) << tok.message();

  TempDir dir;
  const fs::path text_path = dir.path() / "text.txt";
  const std::string text = mixed_text();
  std::ofstream(text_path, std::ios::binary) << text;
  for (bool special : {false, true}) {
    const fs::path ids_path = dir.path() / (special ? "special.ids" : "plain.ids");
    std::vector<std::string> argv = {node->string(), (ref / "tokenize.mjs").string(), "--model", model.string(),
                                     "--file", text_path.string(), "--repeat", "1", "--ids", ids_path.string()};
    if (special) argv.push_back("--special");
    const auto r = run_process(argv, {}, 240);
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    const auto want = read_ids(ids_path);
    const auto got = (*tok)->encode(text, false, special);
    ASSERT_FALSE(want.empty());
    EXPECT_EQ(got.size(), want.size()) << "parse_special=" << special;
    std::size_t first_diff = 0;
    while (first_diff < got.size() && first_diff < want.size() && got[first_diff] == want[first_diff]) ++first_diff;
    EXPECT_EQ(got, want) << "parse_special=" << special << ": first difference at token " << first_diff;
  }
}

INSTANTIATE_TEST_SUITE_P(Shared, AgainstLlamaCpp,
                         ::testing::Values("qwen2", "llama-bpe", "deepseek-coder", "starcoder", "llama-spm", "bert-bge"),
                         [](const ::testing::TestParamInfo<const char*>& param_info) {
                           std::string s = param_info.param;
                           for (char& c : s)
                             if (c == '-') c = '_';
                           return s;
                         });

}  // namespace
}  // namespace rapide::inference
