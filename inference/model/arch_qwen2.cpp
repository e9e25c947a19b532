// qwen2: llama's layer with biases on the Q/K/V projections and NEOX RoPE; dense SwiGLU FFN.
#include "model/layers.h"

namespace rapide::inference::model {

namespace {

struct Qwen2Layer {
  AttentionWeights attn;  // bq/bk/bv required
  DenseFfnWeights ffn;
};

class Qwen2Model final : public ArchModel {
 public:
  explicit Qwen2Model(std::vector<Qwen2Layer> layers) : layers_(std::move(layers)) {}
  void forward_layer(ForwardContext& f, int il) const override {
    const Qwen2Layer& l = layers_[static_cast<std::size_t>(il)];
    attention_block(f, il, l.attn);
    dense_ffn_block(f, l.ffn);
  }

 private:
  std::vector<Qwen2Layer> layers_;
};

}  // namespace

Result<std::unique_ptr<ArchModel>> load_qwen2(const ModelConfig& c, TensorLoader& l) {
  std::vector<Qwen2Layer> layers;
  for (int il = 0; il < c.n_layer && !l.err(); ++il)
    layers.push_back({load_attention(l, c, il, /*bias=*/true, /*qk_norm=*/false), load_dense_ffn(l, c, il)});
  if (l.err()) return *l.err();
  return std::unique_ptr<ArchModel>(std::make_unique<Qwen2Model>(std::move(layers)));
}

}  // namespace rapide::inference::model
