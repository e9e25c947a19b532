// Test helpers for the model suites: small GGUF models with seeded random weights built in
// memory with the GGUF writer (every architecture, MoE, biases, QK-norm, sliding window, tied
// output, any supported weight type), and a naive reference forward pass (plain loops, full
// score matrix, F32 weights only) to check the real one against.
#pragma once

#include "rapide/inference/gguf.h"
#include "rapide/inference/model_config.h"
#include "rapide/inference/tensor_type.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace rapide::inference::testing {

struct TinySpec {
  std::string arch = "llama";
  int n_vocab = 64, n_embd = 32, n_layer = 2, n_head = 4, n_head_kv = 2, n_ff = 48;
  int head_dim = 0;  // 0: n_embd / n_head
  int n_expert = 0, n_expert_used = 0, n_ff_exp = 0;
  int sliding_window = 0;
  bool tied_output = false;
  float rope_freq_base = 10000.0f;
  float linear_rope_factor = 0.0f;  // > 0: rope.scaling.type = linear
  std::uint32_t seed = 1;
  float weight_scale = 0.25f;  // uniform(-s, s) / sqrt(row length) * 4
  TensorType matrix_type = TensorType::F32;  // type of the 2-D/3-D weights
  // Hooks to break the file on purpose (error tests): edit keys / drop tensors / change shapes.
  std::function<void(std::map<std::string, std::vector<std::int64_t>>& shapes)> edit_shapes;
  std::vector<std::string> drop_tensors;
  std::map<std::string, TensorType> type_override;
  std::map<std::string, std::int64_t> uint_keys;  // extra/overriding u32 keys
  std::vector<std::string> drop_keys;
};

// The GGUF bytes, or throws std::runtime_error with the writer's message (a test bug).
std::vector<std::uint8_t> build_tiny_gguf(const TinySpec& spec);
std::shared_ptr<const gguf::GgufFile> open_tiny(const TinySpec& spec);

// Naive forward over `tokens` from position 0: logits [tokens.size(), n_vocab]. Weights must be
// F32 (the spec's default).
std::vector<float> reference_forward(const gguf::GgufFile& file, const ModelConfig& c,
                                     const std::vector<std::int32_t>& tokens);

}  // namespace rapide::inference::testing
