// ModelConfig: the hyperparameters of a transformer, read from GGUF metadata through the
// architecture table (arch.h). Plain data; every field is validated by read_model_config() so the
// forward pass can trust it (positive sizes, n_head divisible by n_head_kv, ...).
#pragma once

#include "rapide/inference/result.h"

#include <cstdint>
#include <string>

namespace rapide::inference {

namespace gguf {
class GgufFile;
}

// How RoPE pairs the dimensions of a head: NORMAL rotates (x[2i], x[2i+1]) (llama), NEOX rotates
// (x[i], x[i + n_rot/2]) (qwen2, qwen3, qwen3moe). Same as llama.cpp's LLAMA_ROPE_TYPE_*.
enum class RopeType { NORMAL, NEOX };
enum class RopeScaling { NONE, LINEAR, YARN };

struct ModelConfig {
  std::string arch;            // general.architecture: "llama", "qwen2", "qwen3", "qwen3moe"
  std::int32_t n_vocab = 0;    // rows of token_embd (= logits per row)
  std::int32_t n_embd = 0;     // residual width
  std::int32_t n_layer = 0;
  std::int32_t n_head = 0;     // query heads
  std::int32_t n_head_kv = 0;  // key/value heads (grouped-query attention: n_head % n_head_kv == 0)
  std::int32_t head_dim = 0;   // per-head width of queries and keys ({arch}.attention.key_length)
  std::int32_t head_dim_v = 0; // per-head width of values ({arch}.attention.value_length)
  std::int32_t n_ff = 0;       // dense FFN width (0 for MoE-only models)
  std::int32_t n_ctx_train = 0;
  float rms_eps = 1e-5f;

  // RoPE
  RopeType rope_type = RopeType::NORMAL;
  std::int32_t n_rot = 0;           // rotated dims per head ({arch}.rope.dimension_count), <= head_dim
  float rope_freq_base = 10000.0f;
  RopeScaling rope_scaling = RopeScaling::NONE;
  float rope_freq_scale = 1.0f;     // 1 / {arch}.rope.scaling.factor
  std::int32_t rope_n_ctx_orig = 0; // {arch}.rope.scaling.original_context_length (YaRN)
  float yarn_ext_factor = 0.0f;     // 1 for YaRN, 0 otherwise (as llama.cpp)
  float yarn_attn_factor = 1.0f;
  float yarn_beta_fast = 32.0f;
  float yarn_beta_slow = 1.0f;

  // Sliding-window attention: each query sees at most this many most recent positions
  // (itself included); 0 = full causal attention. From {arch}.attention.sliding_window.
  std::int32_t sliding_window = 0;

  // Mixture of experts (0 for dense models).
  std::int32_t n_expert = 0;
  std::int32_t n_expert_used = 0;  // top-k
  std::int32_t n_ff_exp = 0;       // per-expert FFN width
  std::int32_t n_ff_shexp = 0;     // shared-expert FFN width (0: none)
  bool expert_weights_norm = true; // renormalise the top-k gate weights to sum to 1

  bool has_qkv_bias = false;  // qwen2: attn_{q,k,v}.bias
  bool has_qk_norm = false;   // qwen3, qwen3moe: attn_{q,k}_norm.weight per head
  bool tied_output = false;   // no output.weight: logits use token_embd.weight

  bool is_moe() const { return n_expert > 0; }
};

// Reads and validates the hyperparameters of `file` (architecture table lookup, required keys,
// consistency). Errors name the key: "qwen2.attention.head_count: missing".
Result<ModelConfig> read_model_config(const gguf::GgufFile& file);

}  // namespace rapide::inference
