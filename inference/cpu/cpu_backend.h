// The CPU backend's private declarations: the KV cache layout and the backend class. The ops are
// in cpu_backend.cpp (dense maths) and cpu_attention.cpp (attention over the cache).
//
// matmul: see cpu/matmul.h (int8 GEMV/GEMM tiles for the block-quantized weights, with
// activations converted once per call to Q8_0/Q8_K as llama.cpp does; float dots for F32/F16/BF16).
//
// Work split: every op with real work runs on the ThreadPool, split by output rows (matmul: blocks
// of weight rows; attention: (token, head) pairs; norms: rows). Per-thread scratch is sized in
// prepare_weights() so no op allocates.
#pragma once

#include "cpu/matmul.h"
#include "cpu/thread_pool.h"
#include "rapide/inference/backend.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace rapide::inference::cpu {

// K and V as F16: k_[((layer * capacity) + pos) * k_width + i], same for v_ with v_width.
class CpuKvCache final : public KvCache {
 public:
  CpuKvCache(std::int32_t n_layer, std::int32_t capacity, std::int32_t k_width, std::int32_t v_width);
  std::int32_t size() const override { return size_; }
  std::int32_t capacity() const override { return capacity_; }
  void truncate(std::int32_t n_tokens) override {
    if (n_tokens < 0) n_tokens = 0;
    if (n_tokens < size_) size_ = n_tokens;
  }
  std::size_t bytes() const override { return (k_.size() + v_.size()) * sizeof(std::uint16_t); }

  void set_size(std::int32_t n) { size_ = n; }
  std::uint16_t* k(std::int32_t layer, std::int32_t pos) {
    return k_.data() + (static_cast<std::size_t>(layer) * capacity_ + pos) * k_width_;
  }
  std::uint16_t* v(std::int32_t layer, std::int32_t pos) {
    return v_.data() + (static_cast<std::size_t>(layer) * capacity_ + pos) * v_width_;
  }
  const std::uint16_t* k(std::int32_t layer, std::int32_t pos) const {
    return k_.data() + (static_cast<std::size_t>(layer) * capacity_ + pos) * k_width_;
  }
  const std::uint16_t* v(std::int32_t layer, std::int32_t pos) const {
    return v_.data() + (static_cast<std::size_t>(layer) * capacity_ + pos) * v_width_;
  }
  std::int32_t k_width() const { return k_width_; }
  std::int32_t v_width() const { return v_width_; }
  std::int32_t n_layer() const { return n_layer_; }

 private:
  std::int32_t n_layer_, capacity_, k_width_, v_width_;
  std::int32_t size_ = 0;
  std::vector<std::uint16_t> k_, v_;
};

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int n_threads);

  std::string_view name() const override { return "cpu"; }
  int n_threads() const override { return pool_.size(); }
  Status prepare_weights(std::span<const WeightView> weights) override;
  std::unique_ptr<Buffer> alloc(std::size_t n_floats) override;
  Result<std::unique_ptr<KvCache>> new_kv_cache(std::int32_t n_layer, std::int32_t capacity, std::int32_t k_width,
                                                std::int32_t v_width) override;
  void get_rows(const WeightView& table, std::span<const std::int32_t> tokens, float* out) override;
  void matmul(const WeightView& w, const float* x, std::int64_t n_tokens, float* y) override;
  void matmul_many(std::span<const MatmulOut> outs, const float* x, std::int64_t n_tokens) override;
  void add_bias(float* y, const WeightView& bias, std::int64_t n_rows) override;
  void rms_norm(const float* x, const WeightView& weight, float* y, std::int64_t n_rows, std::int64_t row_len,
                float eps) override;
  void rope(float* x, std::int64_t n_tokens, std::int32_t n_heads, std::span<const std::int32_t> positions,
            const RopeParams& p) override;
  void kv_store(KvCache& kv, std::int32_t layer, std::int32_t pos0, std::int64_t n_tokens, const float* k,
                const float* v) override;
  void kv_set_size(KvCache& kv, std::int32_t n_tokens) override { static_cast<CpuKvCache&>(kv).set_size(n_tokens); }
  void attention(const KvCache& kv, std::int32_t layer, const float* q, std::int32_t pos0, std::int64_t n_tokens,
                 float* out, const AttentionParams& p) override;
  void swiglu(const float* gate, const float* up, float* out, std::int64_t n) override;
  void add(float* y, const float* x, std::int64_t n) override;
  void gather_rows(const float* x, std::int64_t row_len, std::span<const std::int32_t> rows, float* out) override;
  void scatter_add_rows(float* y, std::int64_t row_len, const float* src, std::span<const std::int32_t> rows,
                        std::span<const float> scales) override;
  void to_host(const float* src, float* host_dst, std::size_t n) override;
  BackendStats& stats() override { return stats_; }

 private:
  void ensure_scratch(std::int64_t max_cols);
  void count_read(const WeightView& w);  // stats_ for one matmul of w
  void rope_table(std::span<const std::int32_t> positions, const RopeParams& p);

  ThreadPool pool_;
  BackendStats stats_;
  std::int64_t scratch_floats_ = 0;
  std::vector<std::vector<float>> scratch_;
  std::vector<std::uint8_t> act_;  // activations converted for the int8 matmul kernels
  MatmulIsa isa_;
  // RoPE cos/sin cache for the last positions and parameters: [n_tokens, n_rot/2, 2]
  std::vector<std::int32_t> rope_positions_;
  RopeParams rope_params_{};
  std::vector<float> rope_cs_;
};

}  // namespace rapide::inference::cpu
