// Models for the engine tests: the real stories260K model (llama, 512-token vocabulary) and
// variants of it written with the GGUF writer: a longer context (for 2,000-token prompts) and a
// "draft" whose output head is perturbed, so that it shares the vocabulary but disagrees with the
// target often enough to force speculative rejections.
#pragma once

#include "rapide/inference/gguf.h"
#include "rapide/inference/gguf_writer.h"
#include "rapide/inference/model.h"
#include "rapide/inference/tokenizer.h"
#include "rapide/inference/engine/sampling.h"

#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace rapide::testing {

struct LoadedModel {
  std::shared_ptr<const inference::gguf::GgufFile> file;
  std::unique_ptr<inference::Model> model;
  std::shared_ptr<const inference::Tokenizer> tokenizer;
};

inline std::string load_model(const std::filesystem::path& path, LoadedModel& out) {
  auto f = inference::gguf::GgufFile::open(path);
  if (!f) return f.message();
  out.file = *f;
  auto m = inference::Model::load(out.file, {.n_threads = 1});
  if (!m) return m.message();
  out.model = std::move(*m);
  auto t = inference::Tokenizer::from_gguf(*out.file);
  if (!t) return t.message();
  out.tokenizer = *t;
  return {};
}

// A copy of `src` with llama.context_length = n_ctx and, when noise > 0, output.weight scaled by
// `scale` plus seeded uniform noise of amplitude `noise` (F32 weights only).
inline std::string write_variant(const std::filesystem::path& src_path, const std::filesystem::path& dst,
                                 std::uint32_t n_ctx, float scale, float noise, std::uint64_t seed) {
  auto f = inference::gguf::GgufFile::open(src_path);
  if (!f) return f.message();
  const auto& src = **f;
  inference::gguf::GgufWriter w;
  w.copy_metadata(src);
  w.set_uint32("llama.context_length", n_ctx);
  std::vector<std::vector<float>> keep;
  for (const auto& t : src.tensors()) {
    auto bytes = src.tensor_data(t);
    if (t.name == "output.weight" && (noise > 0 || scale != 1.0f) && t.type == inference::TensorType::F32) {
      std::vector<float> v(t.n_elements);
      std::memcpy(v.data(), bytes.data(), bytes.size());
      inference::engine::Rng rng(seed);
      for (float& x : v) x = x * scale + noise * static_cast<float>(2 * rng.uniform() - 1);
      keep.push_back(std::move(v));
      bytes = std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(keep.back().data()), bytes.size());
    }
    if (Status st = w.add_tensor(t.name, t.type, t.dims, bytes); !st) return st.message();
  }
  auto r = w.write(dst);
  if (!r) return r.message();
  return {};
}

}  // namespace rapide::testing
