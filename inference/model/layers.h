// Building blocks of the forward pass, shared by the architecture files: the weight groups a
// layer is made of (attention, dense FFN, MoE FFN), the loader that finds and checks tensors, and
// the per-forward context with the activation buffers. Everything runs through the Backend, so
// these functions are the only forward-pass code there is (no backend #ifdefs anywhere).
#pragma once

#include "rapide/inference/arch.h"
#include "rapide/inference/backend.h"
#include "rapide/inference/gguf.h"
#include "rapide/inference/model_config.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace rapide::inference::model {

// Finds tensors by kind/layer and checks their shape against the hyperparameters and their type
// against what the backend computes with. Errors are collected (the first one is kept) so
// loading code reads straight through; check err() at the end.
class TensorLoader {
 public:
  TensorLoader(const gguf::GgufFile& file, std::string arch) : file_(file), arch_(std::move(arch)) {}

  // `shape` in ggml order ([row length, rows, experts]). suffix: "weight" or "bias".
  WeightView require(TensorKind kind, int layer, std::vector<std::int64_t> shape, const char* suffix = "weight");
  // An empty view when the tensor is absent; checked like require() when present.
  WeightView optional(TensorKind kind, int layer, std::vector<std::int64_t> shape, const char* suffix = "weight");

  const std::optional<Error>& err() const { return err_; }
  std::vector<WeightView>& all() { return all_; }

 private:
  WeightView check(const gguf::TensorInfo& t, const std::string& name, const std::vector<std::int64_t>& shape);
  void fail(Error e) {
    if (!err_) err_ = std::move(e);
  }

  const gguf::GgufFile& file_;
  std::string arch_;
  std::optional<Error> err_;
  std::vector<WeightView> all_;
};

struct AttentionWeights {
  WeightView norm;            // [n_embd]
  WeightView wq, wk, wv, wo;  // [n_embd, n_head*hd], [n_embd, n_head_kv*hd], [.., n_head_kv*hdv], [n_head*hdv, n_embd]
  WeightView bq, bk, bv;      // optional biases (qwen2)
  WeightView q_norm, k_norm;  // optional per-head RMSNorm weights [hd] (qwen3)
};
struct DenseFfnWeights {
  WeightView norm;            // [n_embd]
  WeightView gate, up, down;  // [n_embd, n_ff], [n_embd, n_ff], [n_ff, n_embd]
};
struct MoeFfnWeights {
  WeightView norm;                          // [n_embd]
  WeightView gate_inp;                      // router [n_embd, n_expert]
  WeightView gate_exps, up_exps, down_exps;  // [n_embd, n_ff_exp, n_expert], ..., [n_ff_exp, n_embd, n_expert]
  WeightView gate_shexp, up_shexp, down_shexp;  // optional shared expert (always on, weight 1)
};

// Loaders for the groups (shapes from the config); `bias` / `qk_norm` say which optional
// tensors the architecture requires.
AttentionWeights load_attention(TensorLoader& l, const ModelConfig& c, int layer, bool bias, bool qk_norm);
DenseFfnWeights load_dense_ffn(TensorLoader& l, const ModelConfig& c, int layer);
MoeFfnWeights load_moe_ffn(TensorLoader& l, const ModelConfig& c, int layer);

// One sequence's rows inside the batch.
struct SeqSlice {
  KvCache* kv = nullptr;
  std::int32_t pos0 = 0;  // position of its first token (= kv->size() before the forward)
  std::int64_t row0 = 0;  // first row in the batch's activations
  std::int64_t n = 0;     // rows
};

// Host-side MoE routing scratch (sized once per batch size; no allocation per layer).
struct MoeScratch {
  std::vector<float> router;         // [N, n_expert] router logits on the host
  std::vector<float> probs;          // [n_expert]
  std::vector<std::int32_t> ids;     // [N, k]
  std::vector<float> weights;        // [N, k]
  std::vector<std::int32_t> count;   // [n_expert] tokens routed to each expert
  std::vector<std::int32_t> rows;    // [n_expert, N] token rows per expert
  std::vector<float> scales;         // [n_expert, N] their gate weights
};

struct ForwardContext {
  Backend& be;
  const ModelConfig& c;
  std::int64_t n_tokens = 0;
  std::span<const std::int32_t> positions;  // host, [n_tokens]
  std::span<const SeqSlice> seqs;
  // backend activations
  float* x = nullptr;        // residual stream [N, n_embd]
  float* xn = nullptr;       // normalised input of a block [N, n_embd]
  float* q = nullptr;        // [N, n_head*hd]
  float* k = nullptr;        // [N, n_head_kv*hd]
  float* v = nullptr;        // [N, n_head_kv*hdv]
  float* attn = nullptr;     // [N, n_head*hdv]
  float* gate = nullptr;     // [N, max ffn width]
  float* up = nullptr;       // [N, max ffn width]
  float* out = nullptr;      // block output [N, n_embd]
  float* router = nullptr;   // [N, n_expert]
  float* moe_in = nullptr;   // [N, n_embd] rows gathered for one expert
  float* moe_out = nullptr;  // [N, n_embd] one expert's output rows
  MoeScratch* moe = nullptr;
};

// x += attention(norm(x)) over each sequence's KV cache (stores this batch's K/V at layer il).
void attention_block(ForwardContext& f, int il, const AttentionWeights& w);
// x += down(silu(gate(norm(x))) * up(norm(x)))
void dense_ffn_block(ForwardContext& f, const DenseFfnWeights& w);
// x += sum over the top-k routed experts (+ shared expert) of weight * expert(norm(x)); only the
// experts some row was routed to are multiplied (their weights read once for all those rows).
void moe_ffn_block(ForwardContext& f, const MoeFfnWeights& w);

// What an architecture file provides: its layers, loaded and typed, and how one runs.
class ArchModel {
 public:
  virtual ~ArchModel() = default;
  virtual void forward_layer(ForwardContext& f, int il) const = 0;
};

Result<std::unique_ptr<ArchModel>> load_llama(const ModelConfig& c, TensorLoader& l);
Result<std::unique_ptr<ArchModel>> load_qwen2(const ModelConfig& c, TensorLoader& l);
Result<std::unique_ptr<ArchModel>> load_qwen3(const ModelConfig& c, TensorLoader& l);
Result<std::unique_ptr<ArchModel>> load_qwen3moe(const ModelConfig& c, TensorLoader& l);

}  // namespace rapide::inference::model
