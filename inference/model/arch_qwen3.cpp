// qwen3: no Q/K/V biases; a per-head RMSNorm on queries and keys (attn_q_norm / attn_k_norm,
// applied before RoPE); NEOX RoPE; dense SwiGLU FFN.
#include "model/layers.h"

namespace rapide::inference::model {

namespace {

struct Qwen3Layer {
  AttentionWeights attn;  // q_norm/k_norm required
  DenseFfnWeights ffn;
};

class Qwen3Model final : public ArchModel {
 public:
  explicit Qwen3Model(std::vector<Qwen3Layer> layers) : layers_(std::move(layers)) {}
  void forward_layer(ForwardContext& f, int il) const override {
    const Qwen3Layer& l = layers_[static_cast<std::size_t>(il)];
    attention_block(f, il, l.attn);
    dense_ffn_block(f, l.ffn);
  }

 private:
  std::vector<Qwen3Layer> layers_;
};

}  // namespace

Result<std::unique_ptr<ArchModel>> load_qwen3(const ModelConfig& c, TensorLoader& l) {
  std::vector<Qwen3Layer> layers;
  for (int il = 0; il < c.n_layer && !l.err(); ++il)
    layers.push_back({load_attention(l, c, il, /*bias=*/false, /*qk_norm=*/true), load_dense_ffn(l, c, il)});
  if (l.err()) return *l.err();
  return std::unique_ptr<ArchModel>(std::make_unique<Qwen3Model>(std::move(layers)));
}

}  // namespace rapide::inference::model
