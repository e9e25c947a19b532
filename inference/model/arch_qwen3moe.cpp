// qwen3moe: qwen3's attention (QK-norm, NEOX RoPE) with a mixture-of-experts FFN in every layer:
// router ffn_gate_inp -> softmax -> top-k (renormalised unless qwen3moe.expert_weights_norm says
// otherwise) -> experts ffn_{gate,up,down}_exps of width expert_feed_forward_length; shared
// expert tensors (ffn_*_shexp) when expert_shared_feed_forward_length is set.
#include "model/layers.h"

namespace rapide::inference::model {

namespace {

struct Qwen3MoeLayer {
  AttentionWeights attn;
  MoeFfnWeights ffn;
};

class Qwen3MoeModel final : public ArchModel {
 public:
  explicit Qwen3MoeModel(std::vector<Qwen3MoeLayer> layers) : layers_(std::move(layers)) {}
  void forward_layer(ForwardContext& f, int il) const override {
    const Qwen3MoeLayer& l = layers_[static_cast<std::size_t>(il)];
    attention_block(f, il, l.attn);
    moe_ffn_block(f, l.ffn);
  }

 private:
  std::vector<Qwen3MoeLayer> layers_;
};

}  // namespace

Result<std::unique_ptr<ArchModel>> load_qwen3moe(const ModelConfig& c, TensorLoader& l) {
  std::vector<Qwen3MoeLayer> layers;
  for (int il = 0; il < c.n_layer && !l.err(); ++il)
    layers.push_back({load_attention(l, c, il, /*bias=*/false, /*qk_norm=*/true), load_moe_ffn(l, c, il)});
  if (l.err()) return *l.err();
  return std::unique_ptr<ArchModel>(std::make_unique<Qwen3MoeModel>(std::move(layers)));
}

}  // namespace rapide::inference::model
