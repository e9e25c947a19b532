// The shared forward-pass blocks and the tensor loader (see layers.h).
#include "model/layers.h"

#include "rapide/inference/moe_math.h"

#include <algorithm>
#include <cmath>

namespace rapide::inference::model {

namespace {

std::string shape_text(const std::vector<std::int64_t>& d) {
  std::string s = "[";
  for (std::size_t i = 0; i < d.size(); ++i) {
    if (i) s.push_back(',');
    s.append(std::to_string(d[i]));
  }
  return s + "]";
}

}  // namespace

WeightView TensorLoader::check(const gguf::TensorInfo& t, const std::string& name,
                               const std::vector<std::int64_t>& shape) {
  if (t.dims != shape) {
    fail(error("tensor '", name, "': shape ", shape_text(t.dims), ", hyperparameters imply ", shape_text(shape),
               ": GGUF made for another architecture or with other hyperparameters?"));
    return {};
  }
  const auto traits = tensor_type_traits(t.type);
  const bool vector = shape.size() == 1;
  if (vector && t.type != TensorType::F32) {
    fail(error("tensor '", name, "': type ", std::string(traits.name), " is not supported for norm/bias vectors (expected F32)"));
    return {};
  }
  const auto row_bytes = tensor_row_bytes(t.type, static_cast<std::uint64_t>(shape[0]));
  if (!row_bytes) {
    fail(error("tensor '", name, "': row length ", shape[0], " is not a multiple of the ", std::string(traits.name),
               " block size ", traits.block_elements));
    return {};
  }
  WeightView w;
  w.type = t.type;
  w.data = file_.tensor_data(t).data();
  w.n_cols = shape[0];
  w.n_rows = shape.size() > 1 ? shape[1] : 1;
  w.n_mats = shape.size() > 2 ? shape[2] : 1;
  w.row_bytes = static_cast<std::size_t>(*row_bytes);
  w.name = t.name;
  all_.push_back(w);
  return w;
}

WeightView TensorLoader::require(TensorKind kind, int layer, std::vector<std::int64_t> shape, const char* suffix) {
  const std::string name = tensor_base_name(kind, layer) + "." + suffix;
  const gguf::TensorInfo* t = file_.find_tensor(name);
  if (!t) {
    fail(error("tensor '", name, "': missing (required by the ", arch_, " architecture)"));
    return {};
  }
  return check(*t, name, shape);
}

WeightView TensorLoader::optional(TensorKind kind, int layer, std::vector<std::int64_t> shape, const char* suffix) {
  const std::string name = tensor_base_name(kind, layer) + "." + suffix;
  const gguf::TensorInfo* t = file_.find_tensor(name);
  return t ? check(*t, name, shape) : WeightView{};
}

AttentionWeights load_attention(TensorLoader& l, const ModelConfig& c, int il, bool bias, bool qk_norm) {
  const std::int64_t e = c.n_embd, q = std::int64_t{c.n_head} * c.head_dim, k = std::int64_t{c.n_head_kv} * c.head_dim,
                     v = std::int64_t{c.n_head_kv} * c.head_dim_v, o = std::int64_t{c.n_head} * c.head_dim_v;
  AttentionWeights w;
  w.norm = l.require(TensorKind::ATTN_NORM, il, {e});
  w.wq = l.require(TensorKind::ATTN_Q, il, {e, q});
  w.wk = l.require(TensorKind::ATTN_K, il, {e, k});
  w.wv = l.require(TensorKind::ATTN_V, il, {e, v});
  w.wo = l.require(TensorKind::ATTN_OUT, il, {o, e});
  if (bias) {
    w.bq = l.require(TensorKind::ATTN_Q, il, {q}, "bias");
    w.bk = l.require(TensorKind::ATTN_K, il, {k}, "bias");
    w.bv = l.require(TensorKind::ATTN_V, il, {v}, "bias");
  } else {
    w.bq = l.optional(TensorKind::ATTN_Q, il, {q}, "bias");
    w.bk = l.optional(TensorKind::ATTN_K, il, {k}, "bias");
    w.bv = l.optional(TensorKind::ATTN_V, il, {v}, "bias");
  }
  if (qk_norm) {
    w.q_norm = l.require(TensorKind::ATTN_Q_NORM, il, {c.head_dim});
    w.k_norm = l.require(TensorKind::ATTN_K_NORM, il, {c.head_dim});
  }
  return w;
}

DenseFfnWeights load_dense_ffn(TensorLoader& l, const ModelConfig& c, int il) {
  DenseFfnWeights w;
  w.norm = l.require(TensorKind::FFN_NORM, il, {c.n_embd});
  w.gate = l.require(TensorKind::FFN_GATE, il, {c.n_embd, c.n_ff});
  w.up = l.require(TensorKind::FFN_UP, il, {c.n_embd, c.n_ff});
  w.down = l.require(TensorKind::FFN_DOWN, il, {c.n_ff, c.n_embd});
  return w;
}

MoeFfnWeights load_moe_ffn(TensorLoader& l, const ModelConfig& c, int il) {
  MoeFfnWeights w;
  w.norm = l.require(TensorKind::FFN_NORM, il, {c.n_embd});
  w.gate_inp = l.require(TensorKind::FFN_GATE_INP, il, {c.n_embd, c.n_expert});
  w.gate_exps = l.require(TensorKind::FFN_GATE_EXPS, il, {c.n_embd, c.n_ff_exp, c.n_expert});
  w.up_exps = l.require(TensorKind::FFN_UP_EXPS, il, {c.n_embd, c.n_ff_exp, c.n_expert});
  w.down_exps = l.require(TensorKind::FFN_DOWN_EXPS, il, {c.n_ff_exp, c.n_embd, c.n_expert});
  w.gate_exps.expert = w.up_exps.expert = w.down_exps.expert = true;
  if (c.n_ff_shexp > 0) {
    w.gate_shexp = l.require(TensorKind::FFN_GATE_SHEXP, il, {c.n_embd, c.n_ff_shexp});
    w.up_shexp = l.require(TensorKind::FFN_UP_SHEXP, il, {c.n_embd, c.n_ff_shexp});
    w.down_shexp = l.require(TensorKind::FFN_DOWN_SHEXP, il, {c.n_ff_shexp, c.n_embd});
  }
  return w;
}

void attention_block(ForwardContext& f, int il, const AttentionWeights& w) {
  const ModelConfig& c = f.c;
  Backend& be = f.be;
  const std::int64_t n = f.n_tokens;
  const std::int64_t qw = std::int64_t{c.n_head} * c.head_dim, kw = std::int64_t{c.n_head_kv} * c.head_dim,
                     vw = std::int64_t{c.n_head_kv} * c.head_dim_v, ow = std::int64_t{c.n_head} * c.head_dim_v;
  be.rms_norm(f.x, w.norm, f.xn, n, c.n_embd, c.rms_eps);
  const Backend::MatmulOut qkv[] = {{&w.wq, f.q}, {&w.wk, f.k}, {&w.wv, f.v}};
  be.matmul_many(qkv, f.xn, n);
  if (!w.bq.empty()) be.add_bias(f.q, w.bq, n);
  if (!w.bk.empty()) be.add_bias(f.k, w.bk, n);
  if (!w.bv.empty()) be.add_bias(f.v, w.bv, n);
  if (!w.q_norm.empty()) be.rms_norm(f.q, w.q_norm, f.q, n * c.n_head, c.head_dim, c.rms_eps);
  if (!w.k_norm.empty()) be.rms_norm(f.k, w.k_norm, f.k, n * c.n_head_kv, c.head_dim, c.rms_eps);

  RopeParams rp;
  rp.type = c.rope_type;
  rp.n_rot = c.n_rot;
  rp.head_dim = c.head_dim;
  rp.freq_base = c.rope_freq_base;
  rp.freq_scale = c.rope_freq_scale;
  rp.ext_factor = c.yarn_ext_factor;
  rp.attn_factor = c.yarn_attn_factor;
  rp.beta_fast = c.yarn_beta_fast;
  rp.beta_slow = c.yarn_beta_slow;
  rp.n_ctx_orig = c.rope_n_ctx_orig > 0 ? c.rope_n_ctx_orig : c.n_ctx_train;
  be.rope(f.q, n, c.n_head, f.positions, rp);
  be.rope(f.k, n, c.n_head_kv, f.positions, rp);

  AttentionParams ap;
  ap.n_head = c.n_head;
  ap.n_head_kv = c.n_head_kv;
  ap.head_dim = c.head_dim;
  ap.head_dim_v = c.head_dim_v;
  ap.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  ap.sliding_window = c.sliding_window;
  for (const SeqSlice& s : f.seqs) {
    be.kv_store(*s.kv, il, s.pos0, s.n, f.k + s.row0 * kw, f.v + s.row0 * vw);
    be.attention(*s.kv, il, f.q + s.row0 * qw, s.pos0, s.n, f.attn + s.row0 * ow, ap);
  }
  be.matmul(w.wo, f.attn, n, f.out);
  be.add(f.x, f.out, n * c.n_embd);
}

void dense_ffn_block(ForwardContext& f, const DenseFfnWeights& w) {
  const ModelConfig& c = f.c;
  Backend& be = f.be;
  const std::int64_t n = f.n_tokens;
  be.rms_norm(f.x, w.norm, f.xn, n, c.n_embd, c.rms_eps);
  const Backend::MatmulOut gate_up[] = {{&w.gate, f.gate}, {&w.up, f.up}};
  be.matmul_many(gate_up, f.xn, n);
  be.swiglu(f.gate, f.up, f.gate, n * w.gate.n_rows);
  be.matmul(w.down, f.gate, n, f.out);
  be.add(f.x, f.out, n * c.n_embd);
}

void moe_ffn_block(ForwardContext& f, const MoeFfnWeights& w) {
  const ModelConfig& c = f.c;
  Backend& be = f.be;
  const std::int64_t n = f.n_tokens;
  const int ne = c.n_expert, k = c.n_expert_used;
  MoeScratch& m = *f.moe;
  be.rms_norm(f.x, w.norm, f.xn, n, c.n_embd, c.rms_eps);

  // Route every row on the host: softmax over the router logits, top-k, optional renormalise.
  be.matmul(w.gate_inp, f.xn, n, f.router);
  be.to_host(f.router, m.router.data(), static_cast<std::size_t>(n * ne));
  std::fill(m.count.begin(), m.count.begin() + ne, 0);
  for (std::int64_t t = 0; t < n; ++t) {
    moe_route(m.router.data() + t * ne, ne, k, c.expert_weights_norm, m.probs.data(), m.ids.data() + t * k,
              m.weights.data() + t * k);
    for (int j = 0; j < k; ++j) {
      const std::int32_t e = m.ids[static_cast<std::size_t>(t * k + j)];
      const std::size_t slot = static_cast<std::size_t>(e) * static_cast<std::size_t>(n) + m.count[e]++;
      m.rows[slot] = static_cast<std::int32_t>(t);
      m.scales[slot] = m.weights[static_cast<std::size_t>(t * k + j)];
    }
  }

  // Each selected expert once, over all the rows routed to it, added to the residual stream
  // with the row's gate weight.
  for (int e = 0; e < ne; ++e) {
    const std::int32_t cnt = m.count[e];
    if (cnt == 0) continue;
    const std::span<const std::int32_t> rows(m.rows.data() + static_cast<std::size_t>(e) * n, cnt);
    const std::span<const float> scales(m.scales.data() + static_cast<std::size_t>(e) * n, cnt);
    be.gather_rows(f.xn, c.n_embd, rows, f.moe_in);
    const WeightView gate = w.gate_exps.matrix(e), up = w.up_exps.matrix(e);
    const Backend::MatmulOut gate_up[] = {{&gate, f.gate}, {&up, f.up}};
    be.matmul_many(gate_up, f.moe_in, cnt);
    be.swiglu(f.gate, f.up, f.gate, std::int64_t{cnt} * c.n_ff_exp);
    be.matmul(w.down_exps.matrix(e), f.gate, cnt, f.moe_out);
    be.scatter_add_rows(f.x, c.n_embd, f.moe_out, rows, scales);
  }
  if (!w.gate_shexp.empty()) {
    const Backend::MatmulOut shared_gate_up[] = {{&w.gate_shexp, f.gate}, {&w.up_shexp, f.up}};
    be.matmul_many(shared_gate_up, f.xn, n);
    be.swiglu(f.gate, f.up, f.gate, n * c.n_ff_shexp);
    be.matmul(w.down_shexp, f.gate, n, f.out);
    be.add(f.x, f.out, n * c.n_embd);
  }
}

}  // namespace rapide::inference::model
