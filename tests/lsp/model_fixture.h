// A tiny random-weight qwen2-shaped model with a real tokenizer (FIM tokens, ChatML template),
// written once per test binary into a temp dir. Skips the test when ../shared is absent.
#pragma once

#include "rapide/inference/make_model.h"
#include "test_support.h"

#include <filesystem>
#include <memory>
#include <string>

namespace rapide::lsp::testing {

inline const std::filesystem::path& tiny_model_path(std::string& why_not) {
  static std::unique_ptr<rapide::testing::TempDir> dir;
  static std::filesystem::path path;
  static std::string error;
  if (!path.empty() || !error.empty()) {
    why_not = error;
    return path;
  }
  const auto vocab = rapide::testing::shared_file("vocab/ggml-vocab-qwen2.gguf");
  if (vocab.empty()) {
    error = "shared test data vocab/ggml-vocab-qwen2.gguf not found under " + rapide::testing::shared_dir().string();
    why_not = error;
    return path;
  }
  dir = std::make_unique<rapide::testing::TempDir>();
  inference::MakeModelOptions o;
  auto dims = inference::preset_dims("tiny", "qwen2");
  if (!dims) {
    error = dims.message();
    why_not = error;
    return path;
  }
  o.dims = *dims;
  o.vocab = vocab;
  o.seed = 7;
  o.output = dir->path() / "tiny-qwen2.gguf";
  auto r = inference::make_model(o);
  if (!r) {
    error = "make_model: " + r.message();
    why_not = error;
    return path;
  }
  path = o.output;
  return path;
}

}  // namespace rapide::lsp::testing

#define RAPIDE_REQUIRE_TINY_MODEL(var)                                         \
  std::string var##_why;                                                       \
  const std::filesystem::path var = ::rapide::lsp::testing::tiny_model_path(var##_why); \
  if (var.empty()) GTEST_SKIP() << var##_why
