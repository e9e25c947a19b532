#include "cpu/cpu_backend.h"

#include "cpu/elementwise.h"
#include "cpu/kernels.h"
#include "cpu/matmul.h"
#include "rapide/inference/quant.h"
#include "rapide/inference/rope_math.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

namespace rapide::inference {

std::unique_ptr<Backend> make_cpu_backend(const BackendOptions& opts) {
  const int n = opts.n_threads > 0 ? opts.n_threads : cpu::physical_core_count();
  return std::make_unique<cpu::CpuBackend>(n);
}

namespace cpu {

namespace {

class CpuBuffer final : public Buffer {
 public:
  explicit CpuBuffer(std::size_t n) : v_(n) {}
  float* data() override { return v_.data(); }
  std::size_t size() const override { return v_.size(); }

 private:
  std::vector<float> v_;
};

// Splits n items into tasks of at least `min_chunk` items, about 4 per thread.
std::int64_t chunk_size(std::int64_t n, int n_threads, std::int64_t min_chunk) {
  const std::int64_t want = (n + 4 * n_threads - 1) / (4 * n_threads);
  return std::max(min_chunk, want);
}

}  // namespace

CpuKvCache::CpuKvCache(std::int32_t n_layer, std::int32_t capacity, std::int32_t k_width, std::int32_t v_width)
    : n_layer_(n_layer),
      capacity_(capacity),
      k_width_(k_width),
      v_width_(v_width),
      k_(static_cast<std::size_t>(n_layer) * capacity * k_width),
      v_(static_cast<std::size_t>(n_layer) * capacity * v_width) {}

CpuBackend::CpuBackend(int n_threads)
    : pool_(n_threads), scratch_(static_cast<std::size_t>(pool_.size())), isa_(matmul_best_isa()) {}

void CpuBackend::ensure_scratch(std::int64_t max_cols) {
  const auto need = static_cast<std::int64_t>(matmul_float_scratch(max_cols));
  if (need <= scratch_floats_) return;
  scratch_floats_ = need;
  for (auto& s : scratch_) s.assign(static_cast<std::size_t>(need), 0.0f);
}

Status CpuBackend::prepare_weights(std::span<const WeightView> weights) {
  std::int64_t max_cols = 0;
  for (const WeightView& w : weights) {
    if (w.empty()) continue;
    if (!weight_type_supported(w.type))
      return error("tensor '", std::string(w.name), "': type ", std::string(tensor_type_traits(w.type).name),
                   " is not supported by the CPU backend (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K)");
    max_cols = std::max(max_cols, w.n_cols);
  }
  ensure_scratch(max_cols);
  return {};
}

std::unique_ptr<Buffer> CpuBackend::alloc(std::size_t n_floats) { return std::make_unique<CpuBuffer>(n_floats); }

Result<std::unique_ptr<KvCache>> CpuBackend::new_kv_cache(std::int32_t n_layer, std::int32_t capacity,
                                                          std::int32_t k_width, std::int32_t v_width) {
  if (capacity <= 0) return error("KV cache capacity must be positive, got ", capacity);
  const double bytes = 2.0 * n_layer * static_cast<double>(capacity) * (k_width + v_width);
  if (bytes > 64.0 * (1ull << 30))
    return error("KV cache of ", capacity, " tokens would take ", static_cast<long long>(bytes / (1 << 20)),
                 " MiB (limit 64 GiB): ask for fewer tokens");
  std::unique_ptr<KvCache> kv = std::make_unique<CpuKvCache>(n_layer, capacity, k_width, v_width);
  return kv;
}

void CpuBackend::get_rows(const WeightView& table, std::span<const std::int32_t> tokens, float* out) {
  const std::int64_t n = static_cast<std::int64_t>(tokens.size());
  pool_.run(n, [&](std::int64_t t, int) {
    dequantize_weight_row(table.type, table.data + static_cast<std::size_t>(tokens[t]) * table.row_bytes,
                          out + t * table.n_cols, table.n_cols);
  }, n * table.n_cols);
  stats_.weight_bytes_read += static_cast<std::uint64_t>(n) * table.row_bytes;
}

void CpuBackend::count_read(const WeightView& w) {
  const std::uint64_t bytes = static_cast<std::uint64_t>(w.n_rows) * w.row_bytes;
  stats_.weight_bytes_read += bytes;
  if (w.expert) stats_.expert_weight_bytes_read += bytes;
  ++stats_.matmul_calls;
}

void CpuBackend::matmul(const WeightView& w, const float* x, std::int64_t n_tokens, float* y) {
  if (n_tokens <= 0) return;
  count_read(w);
  // Block-quantized weights: activations converted once (Q8_0 / Q8_K), then the int8 kernels.
  // Non-finite activations cannot be quantized: they take the float path, where NaN/Inf
  // propagate as they would in llama.cpp.
  if (matmul_int8_type(w.type)) {
    std::size_t act_row = 0;
    if (quantize_activations(pool_, w.type, x, n_tokens, w.n_cols, act_, &act_row)) {
      matmul_int8(pool_, w, act_.data(), act_row, n_tokens, y, isa_);
      return;
    }
  }
  matmul_float(pool_, w, x, n_tokens, y, scratch_);
}

void CpuBackend::matmul_many(std::span<const MatmulOut> outs, const float* x, std::int64_t n_tokens) {
  if (n_tokens <= 0 || outs.empty()) return;
  // One activation conversion and, for one token, one parallel loop over all the rows, when every
  // weight takes the same integer path on the same input width.
  const WeightView& first = *outs.front().w;
  bool same = matmul_int8_type(first.type);
  for (const MatmulOut& o : outs)
    same = same && matmul_int8_type(o.w->type) && o.w->n_cols == first.n_cols &&
           vec_dot_activation_type(o.w->type) == vec_dot_activation_type(first.type);
  std::size_t act_row = 0;
  if (!same || !quantize_activations(pool_, first.type, x, n_tokens, first.n_cols, act_, &act_row)) {
    for (const MatmulOut& o : outs) matmul(*o.w, x, n_tokens, o.y);
    return;
  }
  for (const MatmulOut& o : outs) count_read(*o.w);
  if (n_tokens == 1) {
    gemv_int8_many(pool_, outs, act_.data(), isa_);
    return;
  }
  for (const MatmulOut& o : outs) matmul_int8(pool_, *o.w, act_.data(), act_row, n_tokens, o.y, isa_);
}

void CpuBackend::add_bias(float* y, const WeightView& bias, std::int64_t n_rows) {
  const float* b = reinterpret_cast<const float*>(bias.data);
  for (std::int64_t r = 0; r < n_rows; ++r)
    for (std::int64_t i = 0; i < bias.n_cols; ++i) y[r * bias.n_cols + i] += b[i];
}

void CpuBackend::rms_norm(const float* x, const WeightView& weight, float* y, std::int64_t n_rows,
                          std::int64_t row_len, float eps) {
  const float* w = weight.empty() ? nullptr : reinterpret_cast<const float*>(weight.data);
  const std::int64_t chunk = chunk_size(n_rows, pool_.size(), 16);
  pool_.run((n_rows + chunk - 1) / chunk, [&](std::int64_t task, int) {
    const std::int64_t end = std::min(n_rows, (task + 1) * chunk);
    for (std::int64_t r = task * chunk; r < end; ++r) {
      const float* xr = x + r * row_len;
      float* yr = y + r * row_len;
      double ss = 0.0;  // double accumulation, as ggml does
      for (std::int64_t i = 0; i < row_len; ++i) ss += static_cast<double>(xr[i]) * xr[i];
      const float scale = 1.0f / std::sqrt(static_cast<float>(ss / static_cast<double>(row_len)) + eps);
      if (w)
        for (std::int64_t i = 0; i < row_len; ++i) yr[i] = xr[i] * scale * w[i];
      else
        for (std::int64_t i = 0; i < row_len; ++i) yr[i] = xr[i] * scale;
    }
  }, n_rows * row_len * 2);
}

void CpuBackend::rope_table(std::span<const std::int32_t> positions, const RopeParams& p) {
  const bool same = rope_positions_.size() == positions.size() &&
                    std::equal(positions.begin(), positions.end(), rope_positions_.begin()) &&
                    std::memcmp(&rope_params_, &p, sizeof(RopeParams)) == 0;
  if (same) return;
  rope_positions_.assign(positions.begin(), positions.end());
  rope_params_ = p;
  const std::int64_t half = p.n_rot / 2;
  rope_cs_.resize(positions.size() * static_cast<std::size_t>(half) * 2);
  float corr[2] = {0.0f, 0.0f};
  if (p.ext_factor != 0.0f)
    rope_yarn_corr_dims(p.n_rot, p.n_ctx_orig, p.freq_base, p.beta_fast, p.beta_slow, corr);
  for (std::size_t t = 0; t < positions.size(); ++t)
    for (std::int64_t i = 0; i < half; ++i) {
      float* cs = rope_cs_.data() + (t * static_cast<std::size_t>(half) + static_cast<std::size_t>(i)) * 2;
      rope_cos_sin(static_cast<float>(positions[t]), static_cast<int>(2 * i), p.n_rot, p.freq_base, p.freq_scale,
                   p.ext_factor, p.attn_factor, corr, &cs[0], &cs[1]);
    }
}

void CpuBackend::rope(float* x, std::int64_t n_tokens, std::int32_t n_heads, std::span<const std::int32_t> positions,
                      const RopeParams& p) {
  rope_table(positions.first(static_cast<std::size_t>(n_tokens)), p);
  const std::int64_t half = p.n_rot / 2;
  for (std::int64_t t = 0; t < n_tokens; ++t) {
    const float* cs = rope_cs_.data() + static_cast<std::size_t>(t * half) * 2;
    for (std::int32_t h = 0; h < n_heads; ++h) {
      float* xh = x + (t * n_heads + h) * p.head_dim;
      for (std::int64_t i = 0; i < half; ++i) {
        const float c = cs[2 * i], s = cs[2 * i + 1];
        // NORMAL: adjacent pairs; NEOX: dimension i with i + n_rot/2.
        const std::int64_t a = p.type == RopeType::NORMAL ? 2 * i : i;
        const std::int64_t b = p.type == RopeType::NORMAL ? 2 * i + 1 : i + half;
        const float x0 = xh[a], x1 = xh[b];
        xh[a] = x0 * c - x1 * s;
        xh[b] = x0 * s + x1 * c;
      }
    }
  }
}

void CpuBackend::kv_store(KvCache& kv_base, std::int32_t layer, std::int32_t pos0, std::int64_t n_tokens,
                          const float* k, const float* v) {
  auto& kv = static_cast<CpuKvCache&>(kv_base);
  for (std::int64_t t = 0; t < n_tokens; ++t) {
    const std::int32_t pos = pos0 + static_cast<std::int32_t>(t);
    f32_to_f16_row(k + t * kv.k_width(), kv.k(layer, pos), kv.k_width());
    f32_to_f16_row(v + t * kv.v_width(), kv.v(layer, pos), kv.v_width());
  }
}

void CpuBackend::swiglu(const float* gate, const float* up, float* out, std::int64_t n) {
  const std::int64_t chunk = chunk_size(n, pool_.size(), 4096);
  pool_.run((n + chunk - 1) / chunk, [&](std::int64_t task, int) {
    const std::int64_t begin = task * chunk, end = std::min(n, begin + chunk);
    swiglu_span(gate + begin, up + begin, out + begin, end - begin);
  }, n * 8);
}

void CpuBackend::add(float* y, const float* x, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void CpuBackend::gather_rows(const float* x, std::int64_t row_len, std::span<const std::int32_t> rows, float* out) {
  for (std::size_t i = 0; i < rows.size(); ++i)
    std::memcpy(out + static_cast<std::int64_t>(i) * row_len, x + static_cast<std::int64_t>(rows[i]) * row_len,
                static_cast<std::size_t>(row_len) * sizeof(float));
}

void CpuBackend::scatter_add_rows(float* y, std::int64_t row_len, const float* src, std::span<const std::int32_t> rows,
                                  std::span<const float> scales) {
  for (std::size_t i = 0; i < rows.size(); ++i)
    axpy_f32(scales[i], src + static_cast<std::int64_t>(i) * row_len, y + static_cast<std::int64_t>(rows[i]) * row_len,
             row_len);
}

void CpuBackend::to_host(const float* src, float* host_dst, std::size_t n) {
  if (src != host_dst) std::memcpy(host_dst, src, n * sizeof(float));
}

}  // namespace cpu
}  // namespace rapide::inference
