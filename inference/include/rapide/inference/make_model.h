// make_model: writes a GGUF model with seeded random weights and a real tokenizer, for tests
// and benchmarks (`rapide make-model`). The files use llama.cpp's tensor names and metadata keys
// (src/llama-arch.cpp) so llama.cpp loads them, and so does rapide's own loader.
//
// Architectures: llama (optionally Mixtral-style experts: ffn_{gate,up,down}_exps + ffn_gate_inp),
// qwen2 (Q/K/V biases), qwen3 (QK-norm: attn_q_norm/attn_k_norm), qwen3moe (experts with
// expert_feed_forward_length). Presets give real shapes (see model_presets()).
//
// Weights: normal-ish (sum of four uniforms), std 1/sqrt(fan_in), with attn_output and ffn_down
// further scaled by 1/sqrt(2 n_layer) so the residual stream stays sane over many layers; norms
// are 1, biases small. Each tensor is generated in chunks of rows, each chunk seeded from (seed,
// tensor name, chunk index), so the bytes depend on the seed only, not on the thread count.
//
// Types: f32, f16, bf16, q8_0, q4_0, q4_k, q5_k, q6_k (all 2-D/3-D weights of that type, like
// llama-quantize --pure) and q4_k_m (llama.cpp's Q4_K_M mix: output/tied embeddings Q6_K, attn_v
// and ffn_down Q6_K in the layers use_more_bits picks, 8-expert rules). Norms, biases and the
// router stay F32. Rows that do not hold whole blocks fall back as llama.cpp does
// (Q4_K->Q5_0, Q5_K->Q5_1, Q6_K->Q8_0, then F16).
//
// Errors are returned (never thrown): unknown arch/preset/type, inconsistent dims, a vocab file
// without a tokenizer, a preset whose vocab size differs from the vocab file's, I/O failures.
#pragma once

#include "rapide/inference/result.h"
#include "rapide/inference/tensor_type.h"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rapide::inference {

struct ModelDims {
  std::string arch;               // "llama", "qwen2", "qwen3", "qwen3moe"
  std::int64_t n_vocab = 0;       // 0: take the vocab file's token count
  std::int64_t n_embd = 0;
  std::int64_t n_layer = 0;
  std::int64_t n_ff = 0;          // dense FFN width (llama MoE: also each expert's width)
  std::int64_t n_head = 0;
  std::int64_t n_head_kv = 0;     // 0: n_head
  std::int64_t head_dim = 0;      // 0: n_embd / n_head
  std::int64_t n_expert = 0;      // 0: dense
  std::int64_t n_expert_used = 0;
  std::int64_t n_ff_exp = 0;      // qwen3moe expert width (0: n_ff)
  std::int64_t n_ctx = 4096;      // {arch}.context_length
  double rope_base = 10000.0;
  double rms_eps = 1e-5;
  bool tied_output = false;       // no output.weight: the head reuses token_embd

  // Fills defaults and checks the dims fit together; the error names the offending field.
  Status validate();
};

// The weight format: a single type, or llama.cpp's Q4_K_M mix.
struct WeightFormat {
  TensorType type = TensorType::F32;
  bool q4_k_m = false;
};
// "f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", "q5_k", "q6_k", "q4_k_m".
Result<WeightFormat> parse_weight_format(std::string_view name);
std::string weight_format_name(const WeightFormat& f);

struct ModelPreset {
  std::string_view name;
  std::string_view description;
  ModelDims dims;  // dims.arch empty: any architecture (the tiny preset)
};
const std::vector<ModelPreset>& model_presets();
// The preset's dims for `arch` (which may be empty when the preset implies one).
Result<ModelDims> preset_dims(std::string_view preset, std::string_view arch);
// Applies "key=value,key=value" overrides (keys as ModelDims fields: n_embd, n_layer, ...).
Status apply_dims(ModelDims& dims, std::string_view spec);

struct MakeModelOptions {
  ModelDims dims;
  WeightFormat format;
  std::filesystem::path vocab;   // a GGUF with tokenizer.ggml.* keys
  std::uint64_t seed = 0;
  std::filesystem::path output;
  int n_threads = 0;             // 0: hardware concurrency
  std::string name;              // general.name ("" = "rapide-random-<arch>")
};

struct MakeModelReport {
  std::uint64_t tensors = 0;
  std::uint64_t parameters = 0;
  std::uint64_t file_bytes = 0;
  std::int64_t n_vocab = 0;
  double seconds = 0;
};

Result<MakeModelReport> make_model(const MakeModelOptions& options);

// llama.cpp's llama_ftype id for general.file_type (0 F32, 1 F16, 7 Q8_0, 15 Q4_K_M, ...).
std::uint32_t file_type_id(const WeightFormat& format);

// The type a tensor gets under `format` (exposed for tests): `name` is the GGUF tensor name,
// `dims` its shape, `n_layer`/`n_expert` the model's, `tied` whether output.weight is absent.
TensorType choose_tensor_type(const WeightFormat& format, std::string_view name, const std::vector<std::int64_t>& dims,
                              std::int64_t n_layer, std::int64_t n_expert, bool tied);

}  // namespace rapide::inference
