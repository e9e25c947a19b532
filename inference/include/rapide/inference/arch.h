// The architecture table (llama.cpp's llama-arch style): general.architecture -> which
// hyperparameter keys apply, which tensors a layer has and how RoPE pairs dimensions. Adding a
// family = a table entry here + one small file in inference/model/ with its typed layer struct.
//
// Tensor names are llama.cpp's: "token_embd", "blk.<i>.attn_q", ... with ".weight"/".bias".
#pragma once

#include "rapide/inference/model_config.h"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace rapide::inference {

enum class Arch { LLAMA, QWEN2, QWEN3, QWEN3MOE };

enum class TensorKind {
  TOKEN_EMBD,
  OUTPUT_NORM,
  OUTPUT,
  ATTN_NORM,
  ATTN_Q,
  ATTN_K,
  ATTN_V,
  ATTN_OUT,
  ATTN_Q_NORM,
  ATTN_K_NORM,
  FFN_NORM,
  FFN_GATE,
  FFN_UP,
  FFN_DOWN,
  FFN_GATE_INP,
  FFN_GATE_EXPS,
  FFN_UP_EXPS,
  FFN_DOWN_EXPS,
  FFN_GATE_SHEXP,
  FFN_UP_SHEXP,
  FFN_DOWN_SHEXP,
};

// "blk.%d.attn_q" style base name (without ".weight"/".bias").
std::string tensor_base_name(TensorKind kind, int layer = -1);

enum class FfnKind {
  DENSE,         // ffn_gate/ffn_up/ffn_down
  MOE,           // ffn_gate_inp + ffn_*_exps (+ optional ffn_*_shexp)
  DENSE_OR_MOE,  // llama: Mixtral-style experts when {arch}.expert_count > 0
};

struct ArchInfo {
  Arch id;
  std::string_view name;      // general.architecture
  RopeType rope_type;
  bool qkv_bias;              // attn_{q,k,v}.bias required (qwen2)
  bool qk_norm;               // attn_{q,k}_norm.weight per head (qwen3, qwen3moe)
  FfnKind ffn;
  bool expert_weights_norm;   // default when {arch}.expert_weights_norm is absent
};

// The entry for general.architecture, or nullptr.
const ArchInfo* find_arch(std::string_view name);
std::span<const ArchInfo> supported_archs();
// "llama, qwen2, qwen3, qwen3moe" (for error messages)
std::string supported_arch_names();

}  // namespace rapide::inference
