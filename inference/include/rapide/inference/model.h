// Model: a transformer loaded from a GGUF file, run on a Backend.
//
//   auto file = gguf::GgufFile::open(path);               // keep it alive: weights are views
//   auto model = Model::load(*file, {});                   // validates everything, never crashes
//   auto kv = (*model)->new_kv_cache(4096);
//   std::vector<float> logits(n_vocab);
//   int32_t last = n - 1;
//   Model::SequenceBatch b{kv->get(), tokens, {&last, 1}, logits.data()};
//   Status st = (*model)->forward({&b, 1});               // appends tokens to the cache
//
// Architectures: llama (incl. Mixtral-style ffn_*_exps experts), qwen2, qwen3, qwen3moe
// (see arch.h). Weight types: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K.
//
// Errors: load() returns an error naming the key or tensor for a missing/odd hyperparameter,
// unknown architecture, missing tensor, wrong shape or unsupported type. forward() returns an
// error for out-of-range token ids, logit rows, or a cache that would overflow; nothing is
// written to any cache in that case.
//
// Thread-safety: load() and new_kv_cache() may run anywhere; forward() is not thread-safe: one
// caller thread at a time (the engine's worker). The model uses its backend's worker threads.
#pragma once

#include "rapide/inference/backend.h"
#include "rapide/inference/kv_cache.h"
#include "rapide/inference/model_config.h"
#include "rapide/inference/result.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace rapide::inference {

namespace gguf {
class GgufFile;
}

struct LoadOptions {
  int n_threads = 0;           // 0: physical cores
  // "cpu"; "cuda" / "cuda:N" when a CUDA backend is registered (see register_device_backend in
  // backend.h); "auto": cuda:0 when a device is present and the weights plus a default KV cache
  // fit in its free memory, else cpu (Model::device_note() says which and why).
  std::string device = "cpu";
};

class Model {
 public:
  static Result<std::unique_ptr<Model>> load(std::shared_ptr<const gguf::GgufFile> file, const LoadOptions& opts);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelConfig& config() const;
  // An empty cache for one sequence, able to hold capacity_tokens positions.
  Result<std::unique_ptr<KvCache>> new_kv_cache(std::int32_t capacity_tokens);

  struct SequenceBatch {
    KvCache* kv = nullptr;                 // tokens are appended at positions kv->size()...
    std::span<const std::int32_t> tokens;  // may be empty (then logit_rows must be too)
    std::span<const std::int32_t> logit_rows;  // indices into tokens whose logits are wanted
    float* logits = nullptr;               // out: [logit_rows.size(), n_vocab], host memory
  };
  // One batched forward over one or more sequences: every weight row is read once for all rows
  // of all sequences. Each sequence's kv must be a cache of this model and appear once.
  Status forward(std::span<const SequenceBatch> batch);

  Backend& backend();
  // One line for the log: the device the model runs on and why ("device auto -> cpu: no usable
  // CUDA device (...)").
  const std::string& device_note() const;

  struct Impl;

 private:
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rapide::inference
