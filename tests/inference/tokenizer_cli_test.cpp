// `rapide tokenize` end to end: runs the real binary on the shared vocabulary files (all of them
// vocabulary-only GGUFs) and checks its output line, flags and errors.
#include "rapide/inference/gguf.h"
#include "rapide/inference/gguf_writer.h"
#include "rapide/inference/tokenizer.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

namespace rapide::inference {
namespace {

using testing::run_process;
using testing::TempDir;

TEST(TokenizeCli, PrintsIdsOnOneLine) {
  RAPIDE_REQUIRE_SHARED(model, "vocab/ggml-vocab-qwen2.gguf");
  const auto r = run_process({RAPIDE_BINARY, "tokenize", "--model", model.string(), "--text", "def f():"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "750 282 4555\n");
}

TEST(TokenizeCli, ParseSpecialOnlyWhenAsked) {
  RAPIDE_REQUIRE_SHARED(model, "vocab/ggml-vocab-qwen2.gguf");
  const std::string text = "<|fim_prefix|>def f():<|fim_suffix|>\n<|fim_middle|>";
  const auto special =
      run_process({RAPIDE_BINARY, "tokenize", "--model", model.string(), "--text", text, "--parse-special"});
  ASSERT_EQ(special.exit_code, 0) << special.err;
  EXPECT_EQ(special.out, "151659 750 282 4555 151661 198 151660\n");
  const auto plain = run_process({RAPIDE_BINARY, "tokenize", "--model", model.string(), "--text", text});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.out.find("151659"), std::string::npos) << plain.out;
  // The same ids as the library gives.
  auto file = gguf::GgufFile::open(model);
  ASSERT_TRUE(file);
  auto tok = Tokenizer::from_gguf(**file);
  ASSERT_TRUE(tok);
  std::string expected;
  for (std::int32_t id : (*tok)->encode(text, false, false)) expected += (expected.empty() ? "" : " ") + std::to_string(id);
  EXPECT_EQ(plain.out, expected + "\n");
}

TEST(TokenizeCli, AddSpecialFileStdinAndPieces) {
  RAPIDE_REQUIRE_SHARED(model, "vocab/ggml-vocab-llama-bpe.gguf");
  const auto with_bos =
      run_process({RAPIDE_BINARY, "tokenize", "--model", model.string(), "--text", "hi", "--add-special"});
  ASSERT_EQ(with_bos.exit_code, 0) << with_bos.err;
  EXPECT_EQ(with_bos.out, "128000 6151\n");

  TempDir dir;
  const auto path = dir.path() / "in.txt";
  std::ofstream(path, std::ios::binary) << "hi\nthere";
  const auto from_file = run_process({RAPIDE_BINARY, "tokenize", "-m", model.string(), "--file", path.string()});
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  const auto from_text = run_process({RAPIDE_BINARY, "tokenize", "-m", model.string(), "--text", "hi\nthere"});
  EXPECT_EQ(from_file.out, from_text.out);
  const auto from_stdin = run_process({RAPIDE_BINARY, "tokenize", "-m", model.string(), "--file", "-"}, "hi\nthere");
  EXPECT_EQ(from_stdin.out, from_text.out);

  const auto pieces =
      run_process({RAPIDE_BINARY, "tokenize", "-m", model.string(), "--text", "hi\nthere", "--pieces"});
  ASSERT_EQ(pieces.exit_code, 0) << pieces.err;
  EXPECT_EQ(pieces.out, "6151\thi\n198\t\\n\n19041\tthere\n");
}

TEST(TokenizeCli, EmptyTextGivesAnEmptyLine) {
  RAPIDE_REQUIRE_SHARED(model, "vocab/ggml-vocab-gpt-2.gguf");
  const auto r = run_process({RAPIDE_BINARY, "tokenize", "--model", model.string(), "--text", ""});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "\n");
}

TEST(TokenizeCli, MissingPreIsLoggedAndDefaultUsed) {
  RAPIDE_REQUIRE_SHARED(model, "vocab/ggml-vocab-gpt-neox.gguf");
  const auto r = run_process({RAPIDE_BINARY, "tokenize", "--model", model.string(), "--text", "Hello world"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("tokenizer.ggml.pre is missing"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("'default'"), std::string::npos) << r.err;
  EXPECT_FALSE(r.out.empty());
}

TEST(TokenizeCli, ClearErrors) {
  TempDir dir;
  const auto missing = run_process({RAPIDE_BINARY, "tokenize", "--model", (dir.path() / "nope.gguf").string(),
                                    "--text", "x"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("nope.gguf"), std::string::npos) << missing.err;
  EXPECT_TRUE(missing.out.empty());

  const auto no_text = run_process({RAPIDE_BINARY, "tokenize", "--model", (dir.path() / "x.gguf").string()});
  EXPECT_NE(no_text.exit_code, 0);
  EXPECT_NE(no_text.err.find("--text"), std::string::npos) << no_text.err;

  const auto both =
      run_process({RAPIDE_BINARY, "tokenize", "--model", "m.gguf", "--text", "x", "--file", "y"});
  EXPECT_NE(both.exit_code, 0);

  gguf::GgufWriter w;
  w.set_string("general.architecture", "rwkv");
  w.set_string("tokenizer.ggml.model", "rwkv");
  w.set_string_array("tokenizer.ggml.tokens", {"a", "b"});
  ASSERT_TRUE(w.write(dir.path() / "rwkv.gguf"));
  const auto unsupported =
      run_process({RAPIDE_BINARY, "tokenize", "--model", (dir.path() / "rwkv.gguf").string(), "--text", "x"});
  EXPECT_NE(unsupported.exit_code, 0);
  EXPECT_NE(unsupported.err.find("'rwkv' is not supported"), std::string::npos) << unsupported.err;
}

TEST(TokenizeCli, WordPieceAddsClsAndSep) {
  RAPIDE_REQUIRE_SHARED(bert, "vocab/ggml-vocab-bert-bge.gguf");
  const auto r = run_process({RAPIDE_BINARY, "tokenize", "--model", bert.string(), "--text", "x", "--add-special"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("101 ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find(" 102\n"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace rapide::inference
