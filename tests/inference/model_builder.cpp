#include "model_builder.h"

#include "rapide/inference/gguf_writer.h"
#include "rapide/inference/quant/blocks.h"
#include "rapide/inference/quant/float16.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <stdexcept>

namespace rapide::inference::testing {

namespace q = rapide::inference::quant;

namespace {

// Bytes of n random values of `type` (quantized types: random blocks with sane scales).
std::vector<std::uint8_t> random_bytes(TensorType type, std::int64_t n, float scale, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-scale, scale);
  std::uniform_int_distribution<int> byte(0, 255);
  const auto row = tensor_row_bytes(type, static_cast<std::uint64_t>(n));
  if (!row) throw std::runtime_error("bad length for type");
  std::vector<std::uint8_t> out(*row);
  auto fill_random = [&](std::uint8_t* p, std::size_t k) {
    for (std::size_t i = 0; i < k; ++i) p[i] = static_cast<std::uint8_t>(byte(rng));
  };
  switch (type) {
    case TensorType::F32:
      for (std::int64_t i = 0; i < n; ++i) {
        const float v = u(rng);
        std::memcpy(out.data() + i * 4, &v, 4);
      }
      break;
    case TensorType::F16:
      for (std::int64_t i = 0; i < n; ++i) {
        const std::uint16_t h = q::f32_to_f16(u(rng));
        std::memcpy(out.data() + i * 2, &h, 2);
      }
      break;
    case TensorType::BF16:
      for (std::int64_t i = 0; i < n; ++i) {
        const std::uint16_t h = q::f32_to_bf16(u(rng));
        std::memcpy(out.data() + i * 2, &h, 2);
      }
      break;
    case TensorType::Q8_0: {
      auto* b = reinterpret_cast<q::BlockQ8_0*>(out.data());
      for (std::int64_t i = 0; i < n / q::kQK8_0; ++i) {
        fill_random(reinterpret_cast<std::uint8_t*>(b[i].qs), sizeof(b[i].qs));
        b[i].d = q::f32_to_f16(scale / 127.0f);
      }
      break;
    }
    case TensorType::Q4_0: {
      auto* b = reinterpret_cast<q::BlockQ4_0*>(out.data());
      for (std::int64_t i = 0; i < n / q::kQK4_0; ++i) {
        fill_random(b[i].qs, sizeof(b[i].qs));
        b[i].d = q::f32_to_f16(scale / 8.0f);
      }
      break;
    }
    case TensorType::Q4_K: {
      auto* b = reinterpret_cast<q::BlockQ4_K*>(out.data());
      for (std::int64_t i = 0; i < n / q::kQK_K; ++i) {
        fill_random(reinterpret_cast<std::uint8_t*>(&b[i]), sizeof(b[i]));
        b[i].d = q::f32_to_f16(scale / (15.0f * 63.0f) * 2.0f);
        b[i].dmin = q::f32_to_f16(scale / 63.0f);
      }
      break;
    }
    case TensorType::Q5_K: {
      auto* b = reinterpret_cast<q::BlockQ5_K*>(out.data());
      for (std::int64_t i = 0; i < n / q::kQK_K; ++i) {
        fill_random(reinterpret_cast<std::uint8_t*>(&b[i]), sizeof(b[i]));
        b[i].d = q::f32_to_f16(scale / (31.0f * 63.0f) * 2.0f);
        b[i].dmin = q::f32_to_f16(scale / 63.0f);
      }
      break;
    }
    case TensorType::Q6_K: {
      auto* b = reinterpret_cast<q::BlockQ6_K*>(out.data());
      for (std::int64_t i = 0; i < n / q::kQK_K; ++i) {
        fill_random(reinterpret_cast<std::uint8_t*>(&b[i]), sizeof(b[i]));
        for (auto& s : b[i].scales) s = static_cast<std::int8_t>(std::abs(s) % 64);
        b[i].d = q::f32_to_f16(scale / (32.0f * 63.0f));
      }
      break;
    }
    default:
      fill_random(out.data(), out.size());
      break;
  }
  return out;
}

}  // namespace

std::vector<std::uint8_t> build_tiny_gguf(const TinySpec& s) {
  gguf::GgufWriter w;
  const std::string a = s.arch;
  const int hd = s.head_dim ? s.head_dim : s.n_embd / s.n_head;
  const bool moe = s.n_expert > 0;
  w.set_string("general.architecture", a);
  w.set_string("general.name", "tiny-" + a);
  std::map<std::string, std::int64_t> keys = {
      {a + ".context_length", 1024},
      {a + ".embedding_length", s.n_embd},
      {a + ".block_count", s.n_layer},
      {a + ".feed_forward_length", s.n_ff},
      {a + ".attention.head_count", s.n_head},
      {a + ".attention.head_count_kv", s.n_head_kv},
      {a + ".rope.dimension_count", hd},
  };
  if (s.head_dim) {
    keys[a + ".attention.key_length"] = hd;
    keys[a + ".attention.value_length"] = hd;
  }
  if (moe) {
    keys[a + ".expert_count"] = s.n_expert;
    keys[a + ".expert_used_count"] = s.n_expert_used;
    keys[a + ".expert_feed_forward_length"] = s.n_ff_exp;
  }
  if (s.sliding_window) keys[a + ".attention.sliding_window"] = s.sliding_window;
  for (const auto& [k, v] : s.uint_keys) keys[k] = v;
  for (const auto& k : s.drop_keys) keys.erase(k);
  for (const auto& [k, v] : keys) w.set_uint32(k, static_cast<std::uint32_t>(v));
  if (std::find(s.drop_keys.begin(), s.drop_keys.end(), a + ".attention.layer_norm_rms_epsilon") == s.drop_keys.end())
    w.set_float32(a + ".attention.layer_norm_rms_epsilon", 1e-5f);
  w.set_float32(a + ".rope.freq_base", s.rope_freq_base);
  if (s.linear_rope_factor > 0) {
    w.set_string(a + ".rope.scaling.type", "linear");
    w.set_float32(a + ".rope.scaling.factor", s.linear_rope_factor);
  }

  // Tensor shapes (ggml order).
  std::map<std::string, std::vector<std::int64_t>> shapes;
  std::vector<std::string> order;
  auto add = [&](const std::string& name, std::vector<std::int64_t> dims) {
    shapes[name] = std::move(dims);
    order.push_back(name);
  };
  const std::int64_t e = s.n_embd, qd = std::int64_t{s.n_head} * hd, kd = std::int64_t{s.n_head_kv} * hd;
  add("token_embd.weight", {e, s.n_vocab});
  add("output_norm.weight", {e});
  if (!s.tied_output) add("output.weight", {e, s.n_vocab});
  const bool qwen2 = a == "qwen2", qk_norm = a == "qwen3" || a == "qwen3moe";
  for (int il = 0; il < s.n_layer; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    add(p + "attn_norm.weight", {e});
    add(p + "attn_q.weight", {e, qd});
    add(p + "attn_k.weight", {e, kd});
    add(p + "attn_v.weight", {e, kd});
    add(p + "attn_output.weight", {qd, e});
    if (qwen2) {
      add(p + "attn_q.bias", {qd});
      add(p + "attn_k.bias", {kd});
      add(p + "attn_v.bias", {kd});
    }
    if (qk_norm) {
      add(p + "attn_q_norm.weight", {hd});
      add(p + "attn_k_norm.weight", {hd});
    }
    add(p + "ffn_norm.weight", {e});
    if (moe) {
      add(p + "ffn_gate_inp.weight", {e, s.n_expert});
      add(p + "ffn_gate_exps.weight", {e, s.n_ff_exp, s.n_expert});
      add(p + "ffn_up_exps.weight", {e, s.n_ff_exp, s.n_expert});
      add(p + "ffn_down_exps.weight", {s.n_ff_exp, e, s.n_expert});
    } else {
      add(p + "ffn_gate.weight", {e, s.n_ff});
      add(p + "ffn_up.weight", {e, s.n_ff});
      add(p + "ffn_down.weight", {s.n_ff, e});
    }
  }
  if (s.edit_shapes) s.edit_shapes(shapes);

  std::mt19937 rng(s.seed);
  static thread_local std::vector<std::vector<std::uint8_t>> storage;  // kept until write returns
  storage.clear();
  storage.reserve(order.size());
  for (const std::string& name : order) {
    if (std::find(s.drop_tensors.begin(), s.drop_tensors.end(), name) != s.drop_tensors.end()) continue;
    const auto& dims = shapes[name];
    const std::int64_t n = std::accumulate(dims.begin(), dims.end(), std::int64_t{1}, std::multiplies<>());
    const bool vector = dims.size() == 1;
    TensorType type = vector ? TensorType::F32 : s.matrix_type;
    if (auto it = s.type_override.find(name); it != s.type_override.end()) type = it->second;
    float scale = s.weight_scale * 4.0f / std::sqrt(static_cast<float>(dims[0]));
    if (name == "token_embd.weight") scale = 1.0f;
    std::vector<std::uint8_t> bytes;
    if (vector && type == TensorType::F32 && name.find("norm") != std::string::npos) {
      // Norm weights around 1.
      bytes.resize(static_cast<std::size_t>(n) * 4);
      std::uniform_real_distribution<float> u(0.8f, 1.2f);
      for (std::int64_t i = 0; i < n; ++i) {
        const float v = u(rng);
        std::memcpy(bytes.data() + i * 4, &v, 4);
      }
    } else {
      const std::int64_t rows = n / dims[0];
      for (std::int64_t r = 0; r < rows; ++r) {
        auto row = random_bytes(type, dims[0], vector ? 0.1f : scale, rng);
        bytes.insert(bytes.end(), row.begin(), row.end());
      }
    }
    storage.push_back(std::move(bytes));
    if (Status st = w.add_tensor(name, type, dims, storage.back()); !st) throw std::runtime_error(st.message());
  }
  auto mem = w.write_to_memory();
  if (!mem) throw std::runtime_error(mem.message());
  return std::move(*mem);
}

std::shared_ptr<const gguf::GgufFile> open_tiny(const TinySpec& spec) {
  auto f = gguf::GgufFile::parse(build_tiny_gguf(spec), "tiny-" + spec.arch + ".gguf");
  if (!f) throw std::runtime_error(f.message());
  return std::move(*f);
}

namespace {

struct Mat {
  const float* d = nullptr;
  std::int64_t cols = 0, rows = 0;
};

Mat tensor(const gguf::GgufFile& f, const std::string& name) {
  const gguf::TensorInfo* t = f.find_tensor(name);
  if (!t) return {};
  if (t->type != TensorType::F32) throw std::runtime_error("reference_forward needs F32 weights: " + name);
  return {reinterpret_cast<const float*>(f.tensor_data(*t).data()), t->dims[0],
          static_cast<std::int64_t>(t->n_elements / static_cast<std::uint64_t>(t->dims[0]))};
}

// y[r] = sum_c W[r, c] x[c] for matrix m of a (possibly 3-D) tensor.
std::vector<float> mul(const Mat& w, const std::vector<float>& x, std::int64_t rows, std::int64_t m = 0) {
  std::vector<float> y(static_cast<std::size_t>(rows));
  for (std::int64_t r = 0; r < rows; ++r) {
    double s = 0;
    const float* row = w.d + (m * rows + r) * w.cols;
    for (std::int64_t c = 0; c < w.cols; ++c) s += static_cast<double>(row[c]) * x[static_cast<std::size_t>(c)];
    y[static_cast<std::size_t>(r)] = static_cast<float>(s);
  }
  return y;
}

void rmsnorm(float* x, std::int64_t n, const float* w, float eps) {
  double ss = 0;
  for (std::int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const double scale = 1.0 / std::sqrt(ss / static_cast<double>(n) + eps);
  for (std::int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(x[i] * scale * w[i]);
}

void rope(float* h, int n_rot, bool neox, int pos, float base, float freq_scale) {
  for (int i = 0; i < n_rot / 2; ++i) {
    const double theta = pos * freq_scale * std::pow(static_cast<double>(base), -2.0 * i / n_rot);
    const int a = neox ? i : 2 * i, b = neox ? i + n_rot / 2 : 2 * i + 1;
    const double x0 = h[a], x1 = h[b];
    h[a] = static_cast<float>(x0 * std::cos(theta) - x1 * std::sin(theta));
    h[b] = static_cast<float>(x0 * std::sin(theta) + x1 * std::cos(theta));
  }
}

float silu(float x) { return x / (1.0f + std::exp(-x)); }

}  // namespace

std::vector<float> reference_forward(const gguf::GgufFile& f, const ModelConfig& c,
                                     const std::vector<std::int32_t>& tokens) {
  const std::int64_t n = static_cast<std::int64_t>(tokens.size()), e = c.n_embd, hd = c.head_dim;
  const bool neox = c.rope_type == RopeType::NEOX;
  std::vector<std::vector<float>> x(static_cast<std::size_t>(n));
  const Mat embd = tensor(f, "token_embd.weight");
  for (std::int64_t t = 0; t < n; ++t) x[t].assign(embd.d + tokens[t] * e, embd.d + (tokens[t] + 1) * e);
  for (int il = 0; il < c.n_layer; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    std::vector<std::vector<float>> q(n), k(n), v(n);
    for (std::int64_t t = 0; t < n; ++t) {
      std::vector<float> xn = x[t];
      rmsnorm(xn.data(), e, tensor(f, p + "attn_norm.weight").d, c.rms_eps);
      q[t] = mul(tensor(f, p + "attn_q.weight"), xn, c.n_head * hd);
      k[t] = mul(tensor(f, p + "attn_k.weight"), xn, c.n_head_kv * hd);
      v[t] = mul(tensor(f, p + "attn_v.weight"), xn, c.n_head_kv * hd);
      if (Mat b = tensor(f, p + "attn_q.bias"); b.d)
        for (std::int64_t i = 0; i < b.cols; ++i) q[t][i] += b.d[i];
      if (Mat b = tensor(f, p + "attn_k.bias"); b.d)
        for (std::int64_t i = 0; i < b.cols; ++i) k[t][i] += b.d[i];
      if (Mat b = tensor(f, p + "attn_v.bias"); b.d)
        for (std::int64_t i = 0; i < b.cols; ++i) v[t][i] += b.d[i];
      for (int h = 0; h < c.n_head; ++h) {
        if (Mat w = tensor(f, p + "attn_q_norm.weight"); w.d) rmsnorm(q[t].data() + h * hd, hd, w.d, c.rms_eps);
        rope(q[t].data() + h * hd, c.n_rot, neox, static_cast<int>(t), c.rope_freq_base, c.rope_freq_scale);
      }
      for (int h = 0; h < c.n_head_kv; ++h) {
        if (Mat w = tensor(f, p + "attn_k_norm.weight"); w.d) rmsnorm(k[t].data() + h * hd, hd, w.d, c.rms_eps);
        rope(k[t].data() + h * hd, c.n_rot, neox, static_cast<int>(t), c.rope_freq_base, c.rope_freq_scale);
      }
    }
    for (std::int64_t t = 0; t < n; ++t) {
      std::vector<float> att(static_cast<std::size_t>(c.n_head * hd), 0.0f);
      for (int h = 0; h < c.n_head; ++h) {
        const int g = h / (c.n_head / c.n_head_kv);
        std::vector<double> sc(static_cast<std::size_t>(t + 1), -1e300);
        double mx = -1e300;
        for (std::int64_t s = 0; s <= t; ++s) {
          if (c.sliding_window > 0 && t - s >= c.sliding_window) continue;
          double d = 0;
          for (std::int64_t i = 0; i < hd; ++i) d += static_cast<double>(q[t][h * hd + i]) * k[s][g * hd + i];
          sc[s] = d / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, sc[s]);
        }
        double sum = 0;
        for (auto& s : sc) sum += (s = s <= -1e299 ? 0.0 : std::exp(s - mx));
        for (std::int64_t s = 0; s <= t; ++s)
          for (std::int64_t i = 0; i < hd; ++i) att[h * hd + i] += static_cast<float>(sc[s] / sum * v[s][g * hd + i]);
      }
      const auto o = mul(tensor(f, p + "attn_output.weight"), att, e);
      for (std::int64_t i = 0; i < e; ++i) x[t][i] += o[i];
    }
    for (std::int64_t t = 0; t < n; ++t) {
      std::vector<float> xn = x[t];
      rmsnorm(xn.data(), e, tensor(f, p + "ffn_norm.weight").d, c.rms_eps);
      auto ffn = [&](const Mat& g, const Mat& u, const Mat& d, std::int64_t width, std::int64_t m) {
        auto gv = mul(g, xn, width, m), uv = mul(u, xn, width, m);
        for (std::int64_t i = 0; i < width; ++i) gv[i] = silu(gv[i]) * uv[i];
        return mul(d, gv, e, m);
      };
      if (c.is_moe()) {
        const auto logits = mul(tensor(f, p + "ffn_gate_inp.weight"), xn, c.n_expert);
        std::vector<double> pr(logits.size());
        double mx = *std::max_element(logits.begin(), logits.end()), sum = 0;
        for (std::size_t i = 0; i < pr.size(); ++i) sum += (pr[i] = std::exp(logits[i] - mx));
        for (auto& v2 : pr) v2 /= sum;
        std::vector<int> idx(pr.size());
        std::iota(idx.begin(), idx.end(), 0);
        std::stable_sort(idx.begin(), idx.end(), [&](int a2, int b2) { return pr[a2] > pr[b2]; });
        double wsum = 0;
        for (int j = 0; j < c.n_expert_used; ++j) wsum += pr[idx[j]];
        for (int j = 0; j < c.n_expert_used; ++j) {
          const double wgt = c.expert_weights_norm ? pr[idx[j]] / wsum : pr[idx[j]];
          const auto y = ffn(tensor(f, p + "ffn_gate_exps.weight"), tensor(f, p + "ffn_up_exps.weight"),
                             tensor(f, p + "ffn_down_exps.weight"), c.n_ff_exp, idx[j]);
          for (std::int64_t i = 0; i < e; ++i) x[t][i] += static_cast<float>(wgt * y[i]);
        }
      } else {
        const auto y = ffn(tensor(f, p + "ffn_gate.weight"), tensor(f, p + "ffn_up.weight"),
                           tensor(f, p + "ffn_down.weight"), c.n_ff, 0);
        for (std::int64_t i = 0; i < e; ++i) x[t][i] += y[i];
      }
    }
  }
  std::vector<float> out;
  Mat head = tensor(f, "output.weight");
  if (!head.d) head = embd;
  for (std::int64_t t = 0; t < n; ++t) {
    rmsnorm(x[t].data(), e, tensor(f, "output_norm.weight").d, c.rms_eps);
    const auto l = mul(head, x[t], c.n_vocab);
    out.insert(out.end(), l.begin(), l.end());
  }
  return out;
}

}  // namespace rapide::inference::testing
