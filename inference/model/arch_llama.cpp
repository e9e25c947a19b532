// llama: RMSNorm, attention (NORMAL RoPE, GQA, optional biases as some converters emit), and a
// SwiGLU FFN that is either dense or Mixtral-style experts stored as ffn_{gate,up,down}_exps
// with a softmax router (top-k renormalised), chosen by llama.expert_count.
#include "model/layers.h"

#include <variant>

namespace rapide::inference::model {

namespace {

struct LlamaLayer {
  AttentionWeights attn;
  std::variant<DenseFfnWeights, MoeFfnWeights> ffn;
};

class LlamaModel final : public ArchModel {
 public:
  explicit LlamaModel(std::vector<LlamaLayer> layers) : layers_(std::move(layers)) {}
  void forward_layer(ForwardContext& f, int il) const override {
    const LlamaLayer& l = layers_[static_cast<std::size_t>(il)];
    attention_block(f, il, l.attn);
    if (const auto* d = std::get_if<DenseFfnWeights>(&l.ffn))
      dense_ffn_block(f, *d);
    else
      moe_ffn_block(f, std::get<MoeFfnWeights>(l.ffn));
  }

 private:
  std::vector<LlamaLayer> layers_;
};

}  // namespace

Result<std::unique_ptr<ArchModel>> load_llama(const ModelConfig& c, TensorLoader& l) {
  std::vector<LlamaLayer> layers;
  for (int il = 0; il < c.n_layer && !l.err(); ++il) {
    LlamaLayer layer;
    layer.attn = load_attention(l, c, il, /*bias=*/false, /*qk_norm=*/false);
    if (c.is_moe())
      layer.ffn = load_moe_ffn(l, c, il);
    else
      layer.ffn = load_dense_ffn(l, c, il);
    layers.push_back(std::move(layer));
  }
  if (l.err()) return *l.err();
  return std::unique_ptr<ArchModel>(std::make_unique<LlamaModel>(std::move(layers)));
}

}  // namespace rapide::inference::model
