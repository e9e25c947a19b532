// The architecture table and the hyperparameter reader (ModelConfig from GGUF metadata).
#include "rapide/inference/arch.h"
#include "rapide/inference/gguf.h"
#include "rapide/inference/model_config.h"

#include <array>
#include <cmath>
#include <optional>

namespace rapide::inference {

namespace {

constexpr std::array<ArchInfo, 4> kArchs = {{
    {Arch::LLAMA, "llama", RopeType::NORMAL, false, false, FfnKind::DENSE_OR_MOE, true},
    {Arch::QWEN2, "qwen2", RopeType::NEOX, true, false, FfnKind::DENSE, true},
    {Arch::QWEN3, "qwen3", RopeType::NEOX, false, true, FfnKind::DENSE, true},
    {Arch::QWEN3MOE, "qwen3moe", RopeType::NEOX, false, true, FfnKind::MOE, true},
}};

}  // namespace

const ArchInfo* find_arch(std::string_view name) {
  for (const ArchInfo& a : kArchs)
    if (a.name == name) return &a;
  return nullptr;
}

std::span<const ArchInfo> supported_archs() { return kArchs; }

std::string supported_arch_names() {
  std::string s;
  for (const ArchInfo& a : kArchs) {
    if (!s.empty()) s += ", ";
    s += a.name;
  }
  return s;
}

std::string tensor_base_name(TensorKind kind, int layer) {
  const char* n = "";
  switch (kind) {
    case TensorKind::TOKEN_EMBD: return "token_embd";
    case TensorKind::OUTPUT_NORM: return "output_norm";
    case TensorKind::OUTPUT: return "output";
    case TensorKind::ATTN_NORM: n = "attn_norm"; break;
    case TensorKind::ATTN_Q: n = "attn_q"; break;
    case TensorKind::ATTN_K: n = "attn_k"; break;
    case TensorKind::ATTN_V: n = "attn_v"; break;
    case TensorKind::ATTN_OUT: n = "attn_output"; break;
    case TensorKind::ATTN_Q_NORM: n = "attn_q_norm"; break;
    case TensorKind::ATTN_K_NORM: n = "attn_k_norm"; break;
    case TensorKind::FFN_NORM: n = "ffn_norm"; break;
    case TensorKind::FFN_GATE: n = "ffn_gate"; break;
    case TensorKind::FFN_UP: n = "ffn_up"; break;
    case TensorKind::FFN_DOWN: n = "ffn_down"; break;
    case TensorKind::FFN_GATE_INP: n = "ffn_gate_inp"; break;
    case TensorKind::FFN_GATE_EXPS: n = "ffn_gate_exps"; break;
    case TensorKind::FFN_UP_EXPS: n = "ffn_up_exps"; break;
    case TensorKind::FFN_DOWN_EXPS: n = "ffn_down_exps"; break;
    case TensorKind::FFN_GATE_SHEXP: n = "ffn_gate_shexp"; break;
    case TensorKind::FFN_UP_SHEXP: n = "ffn_up_shexp"; break;
    case TensorKind::FFN_DOWN_SHEXP: n = "ffn_down_shexp"; break;
  }
  return "blk." + std::to_string(layer) + "." + n;
}

namespace {

// Reads "{arch}.<suffix>" keys with range checks; the first error is kept.
class KeyReader {
 public:
  KeyReader(const gguf::GgufFile& f, std::string_view arch) : f_(f), prefix_(std::string(arch) + ".") {}

  std::string key(std::string_view suffix) const { return prefix_ + std::string(suffix); }
  bool has(std::string_view suffix) const { return f_.find(key(suffix)) != nullptr; }

  // A positive 32-bit integer; `fallback` (when given) if absent.
  std::int32_t count(std::string_view suffix, std::optional<std::int32_t> fallback = std::nullopt,
                     bool allow_zero = false) {
    const std::string k = key(suffix);
    const gguf::Value* v = f_.find(k);
    if (!v) {
      if (fallback) return *fallback;
      fail(error(k, ": missing (required for ", prefix_.substr(0, prefix_.size() - 1), " models)"));
      return 0;
    }
    if (v->type() == gguf::ValueType::ARRAY) {
      fail(error(k, ": per-layer arrays are not supported (expected one integer)"));
      return 0;
    }
    const auto u = v->as_int();
    if (!u) {
      fail(error(k, ": expected an integer, got ", std::string(gguf::value_type_name(v->type()))));
      return 0;
    }
    if (*u < (allow_zero ? 0 : 1) || *u > (1ll << 30)) {
      fail(error(k, ": value ", static_cast<long long>(*u), " is out of range (expected ", allow_zero ? "0" : "1",
                 "..2^30)"));
      return 0;
    }
    return static_cast<std::int32_t>(*u);
  }

  float real(std::string_view suffix, std::optional<float> fallback) {
    const std::string k = key(suffix);
    const gguf::Value* v = f_.find(k);
    if (!v) {
      if (fallback) return *fallback;
      fail(error(k, ": missing"));
      return 0.0f;
    }
    const auto d = v->as_float();
    if (!d || !std::isfinite(*d)) {
      fail(error(k, ": expected a finite number, got ", std::string(gguf::value_type_name(v->type()))));
      return 0.0f;
    }
    return static_cast<float>(*d);
  }

  void fail(Error e) {
    if (!err_) err_ = std::move(e);
  }
  const std::optional<Error>& err() const { return err_; }

 private:
  const gguf::GgufFile& f_;
  std::string prefix_;
  std::optional<Error> err_;
};

}  // namespace

Result<ModelConfig> read_model_config(const gguf::GgufFile& file) {
  const std::string_view arch_name = file.architecture();
  if (arch_name.empty()) return error(file.source_name(), ": general.architecture: missing (not a model file?)");
  const ArchInfo* arch = find_arch(arch_name);
  if (!arch)
    return error(file.source_name(), ": general.architecture '", std::string(arch_name),
                 "' is not supported (supported: ", supported_arch_names(), ")");

  ModelConfig c;
  c.arch = std::string(arch_name);
  KeyReader r(file, arch_name);
  c.n_embd = r.count("embedding_length");
  c.n_layer = r.count("block_count");
  c.n_head = r.count("attention.head_count");
  c.n_head_kv = r.count("attention.head_count_kv", c.n_head);
  c.n_ctx_train = r.count("context_length", 0, true);
  if (r.err()) return *r.err();
  const std::int32_t default_head_dim = c.n_head > 0 && c.n_embd % c.n_head == 0 ? c.n_embd / c.n_head : 0;
  c.head_dim = r.count("attention.key_length", default_head_dim ? std::optional<std::int32_t>(default_head_dim)
                                                                : std::nullopt);
  c.head_dim_v = r.count("attention.value_length", c.head_dim);
  c.rms_eps = r.real("attention.layer_norm_rms_epsilon", std::nullopt);
  c.rope_freq_base = r.real("rope.freq_base", 10000.0f);
  c.n_rot = r.count("rope.dimension_count", c.head_dim);
  c.sliding_window = r.count("attention.sliding_window", 0, true);
  c.rope_type = arch->rope_type;
  c.has_qkv_bias = arch->qkv_bias;
  c.has_qk_norm = arch->qk_norm;
  if (r.err()) return *r.err();

  // RoPE scaling: {arch}.rope.scaling.type ("none", "linear", "yarn") with .factor, or the
  // older {arch}.rope.scale_linear.
  float factor = r.real("rope.scaling.factor", 0.0f);
  if (const auto t = file.get_string(r.key("rope.scaling.type"))) {
    if (*t == "linear") {
      c.rope_scaling = RopeScaling::LINEAR;
    } else if (*t == "yarn") {
      c.rope_scaling = RopeScaling::YARN;
    } else if (*t != "none") {
      return error(r.key("rope.scaling.type"), ": '", std::string(*t),
                   "' is not supported (expected none, linear or yarn)");
    }
  } else if (r.has("rope.scale_linear")) {
    c.rope_scaling = RopeScaling::LINEAR;
    factor = r.real("rope.scale_linear", 1.0f);
  }
  if (c.rope_scaling != RopeScaling::NONE) {
    if (!(factor > 0.0f)) return error(r.key("rope.scaling.factor"), ": must be > 0 when scaling is enabled");
    c.rope_freq_scale = 1.0f / factor;
  }
  if (c.rope_scaling == RopeScaling::YARN) {
    c.rope_n_ctx_orig = r.count("rope.scaling.original_context_length", c.n_ctx_train > 0 ? c.n_ctx_train : 4096);
    c.yarn_ext_factor = r.real("rope.scaling.yarn_ext_factor", 1.0f);
    c.yarn_attn_factor = r.real("rope.scaling.yarn_attn_factor", 1.0f);
    c.yarn_beta_fast = r.real("rope.scaling.yarn_beta_fast", 32.0f);
    c.yarn_beta_slow = r.real("rope.scaling.yarn_beta_slow", 1.0f);
  }

  // FFN / experts.
  const std::int32_t n_expert = r.count("expert_count", 0, true);
  const bool moe = arch->ffn == FfnKind::MOE || (arch->ffn == FfnKind::DENSE_OR_MOE && n_expert > 0);
  if (moe) {
    c.n_expert = n_expert;
    if (c.n_expert < 1) r.fail(error(r.key("expert_count"), ": missing or 0 (required for ", c.arch, " MoE models)"));
    c.n_expert_used = r.count("expert_used_count");
    c.n_ff_exp = r.count("expert_feed_forward_length", r.has("feed_forward_length")
                                                           ? std::optional<std::int32_t>(r.count("feed_forward_length"))
                                                           : std::nullopt);
    c.n_ff_shexp = r.count("expert_shared_feed_forward_length", 0, true);
    if (const auto norm = file.get_bool(r.key("expert_weights_norm")))
      c.expert_weights_norm = *norm;
    else
      c.expert_weights_norm = arch->expert_weights_norm;
    if (!r.err() && c.n_expert_used > c.n_expert)
      return error(r.key("expert_used_count"), ": ", c.n_expert_used, " is more than expert_count ", c.n_expert);
  } else {
    c.n_ff = r.count("feed_forward_length");
  }
  if (r.err()) return *r.err();

  // Consistency.
  if (c.n_head % c.n_head_kv != 0)
    return error(r.key("attention.head_count"), " (", c.n_head, ") is not a multiple of ",
                 r.key("attention.head_count_kv"), " (", c.n_head_kv, ")");
  if (c.head_dim == 0)
    return error(r.key("attention.key_length"), ": missing and embedding_length ", c.n_embd,
                 " is not a multiple of head_count ", c.n_head);
  if (c.head_dim > 1024 || c.head_dim_v > 1024)
    return error(r.key("attention.key_length"), ": head size ", c.head_dim, "/", c.head_dim_v,
                 " is larger than the supported 1024");
  if (c.n_rot > c.head_dim || c.n_rot % 2 != 0)
    return error(r.key("rope.dimension_count"), ": ", c.n_rot, " must be even and <= the head size ", c.head_dim);
  if (!(c.rms_eps > 0.0f)) return error(r.key("attention.layer_norm_rms_epsilon"), ": must be > 0");
  if (!(c.rope_freq_base > 0.0f)) return error(r.key("rope.freq_base"), ": must be > 0");

  // Vocabulary: the rows of token_embd (checked again with the tensor shapes at load).
  const gguf::TensorInfo* embd = file.find_tensor("token_embd.weight");
  if (!embd) return error("tensor 'token_embd.weight': missing (every ", c.arch, " model has one)");
  if (embd->dims.size() != 2 || embd->dims[1] < 1 || embd->dims[1] > (1 << 30))
    return error("tensor 'token_embd.weight': expected 2 dimensions [n_embd, n_vocab], got ", embd->dims.size());
  c.n_vocab = static_cast<std::int32_t>(embd->dims[1]);
  if (r.has("vocab_size")) {
    const std::int32_t nv = r.count("vocab_size");
    if (r.err()) return *r.err();
    if (nv != c.n_vocab)
      return error(r.key("vocab_size"), ": ", nv, " but tensor 'token_embd.weight' has ", c.n_vocab, " rows");
  }
  c.tied_output = file.find_tensor("output.weight") == nullptr;
  return c;
}

}  // namespace rapide::inference
