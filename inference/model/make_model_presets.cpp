// The model shapes `rapide make-model --preset` knows. Real presets copy the published
// config.json of the model they are named after; the vocabulary size must match the --vocab file.
#include "rapide/inference/make_model.h"

namespace rapide::inference {
namespace {

ModelDims tiny() {
  // Rows of 256 so the K-quants (blocks of 256) are really used, not their fallbacks.
  ModelDims d;
  d.n_vocab = 0;  // the vocab file's
  d.n_embd = 256;
  d.n_layer = 2;
  d.n_ff = 512;
  d.n_head = 4;
  d.n_head_kv = 2;
  d.head_dim = 64;
  d.n_ctx = 2048;
  return d;
}

ModelDims qwen25_coder(std::int64_t n_embd, std::int64_t n_layer, std::int64_t n_ff, std::int64_t n_head) {
  ModelDims d;
  d.arch = "qwen2";
  d.n_vocab = 151936;
  d.n_embd = n_embd;
  d.n_layer = n_layer;
  d.n_ff = n_ff;
  d.n_head = n_head;
  d.n_head_kv = 2;
  d.head_dim = n_embd / n_head;
  d.n_ctx = 32768;
  d.rope_base = 1e6;
  d.rms_eps = 1e-6;
  d.tied_output = true;  // tie_word_embeddings: true in both models' config.json
  return d;
}

ModelDims qwen3_moe_small() {
  // Qwen3-MoE layout (head_dim 128 > n_embd/n_head, QK-norm, 2 of 16 experts), scaled down to
  // about 0.83 B parameters: ~0.9 GB at Q8_0.
  ModelDims d;
  d.arch = "qwen3moe";
  d.n_vocab = 151936;
  d.n_embd = 1024;
  d.n_layer = 12;
  d.n_ff = 3072;
  d.n_head = 16;
  d.n_head_kv = 4;
  d.head_dim = 128;
  d.n_expert = 16;
  d.n_expert_used = 2;
  d.n_ff_exp = 768;
  d.n_ctx = 32768;
  d.rope_base = 1e6;
  d.rms_eps = 1e-6;
  d.tied_output = false;
  return d;
}

}  // namespace

const std::vector<ModelPreset>& model_presets() {
  static const std::vector<ModelPreset> presets = {
      {"tiny", "any --arch: 2 layers, 256 wide, 4 heads (2 KV), FFN 512 (MoE: 4 experts, top-2); vocab from --vocab", tiny()},
      {"qwen2.5-coder-0.5b", "Qwen2.5-Coder-0.5B shapes: 24 layers, 896 wide, 14 heads (2 KV), FFN 4864, tied embeddings",
       qwen25_coder(896, 24, 4864, 14)},
      {"qwen2.5-coder-1.5b", "Qwen2.5-Coder-1.5B shapes: 28 layers, 1536 wide, 12 heads (2 KV), FFN 8960, tied embeddings",
       qwen25_coder(1536, 28, 8960, 12)},
      {"qwen3-moe-small", "Qwen3-MoE layout: 12 layers, 1024 wide, 16 heads (4 KV, head 128), 16 experts of 768, top-2",
       qwen3_moe_small()},
  };
  return presets;
}

Result<ModelDims> preset_dims(std::string_view preset, std::string_view arch) {
  for (const ModelPreset& p : model_presets()) {
    if (p.name != preset) continue;
    ModelDims d = p.dims;
    if (d.arch.empty()) {
      if (arch.empty()) return error("preset '", preset, "' works for any architecture: give --arch (llama, qwen2, qwen3, qwen3moe)");
      d.arch = std::string(arch);
      const bool qwen = arch.starts_with("qwen");
      d.rope_base = qwen ? 1e6 : 10000.0;
      d.rms_eps = qwen ? 1e-6 : 1e-5;
      d.tied_output = arch != "llama";
      if (arch == "qwen3moe") {
        d.n_expert = 4;
        d.n_expert_used = 2;
        d.n_ff_exp = 256;
      }
    } else if (!arch.empty() && arch != d.arch) {
      return error("preset '", preset, "' is a ", d.arch, " model, but --arch ", arch, " was given: drop --arch or pick another preset");
    }
    return d;
  }
  std::string names;
  for (const ModelPreset& p : model_presets()) names.append(names.empty() ? "" : ", ").append(p.name);
  return error("unknown preset '", preset, "' (known: ", names, ")");
}

}  // namespace rapide::inference
