// Backend: where the transformer's operations run (ggml-backend style). The forward pass
// (inference/model/) is written once against this interface and never asks which backend it
// has; the CPU backend (inference/cpu/) is the reference, a CUDA backend implements the same ops.
//
// Memory: activations live in Buffers the backend allocates (host memory for the CPU backend,
// device memory for a GPU one); the float* arguments below are pointers into such buffers.
// Token ids, positions and MoE routing decisions are host data. Weights are WeightViews into the
// mapped GGUF file; a device backend uploads them in prepare_weights() and finds its copies by
// their data pointer.
//
// Shapes: activations are row-major [n_rows, row_len] with no padding (row t of an
// [n_tokens, n_embd] tensor starts at t * n_embd). Weights are ggml-ordered: a matrix of
// n_rows rows of n_cols elements; matmul computes y[t, r] = sum_c W[r, c] * x[t, c].
//
// Threading: a backend is driven by one thread at a time (the model's caller); it may use its
// own worker threads inside each op. No op allocates on the hot path.
#pragma once

#include "rapide/inference/kv_cache.h"
#include "rapide/inference/model_config.h"
#include "rapide/inference/result.h"
#include "rapide/inference/tensor_type.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace rapide::inference {

// A weight tensor of up to 3 dimensions: n_mats matrices (experts) of n_rows rows of n_cols
// elements. Row r of matrix m starts at data + (m * n_rows + r) * row_bytes.
struct WeightView {
  TensorType type = TensorType::F32;
  const std::uint8_t* data = nullptr;
  std::int64_t n_cols = 0;  // ggml ne0: elements per row
  std::int64_t n_rows = 0;  // ggml ne1
  std::int64_t n_mats = 1;  // ggml ne2 (experts), 1 for plain matrices
  std::size_t row_bytes = 0;
  bool expert = false;      // part of a routed-expert tensor (counted separately in BackendStats)
  std::string_view name;

  bool empty() const { return data == nullptr; }
  // Matrix m of a 3-D tensor, as a plain 2-D view.
  WeightView matrix(std::int64_t m) const {
    WeightView w = *this;
    w.data = data + static_cast<std::size_t>(m) * static_cast<std::size_t>(n_rows) * row_bytes;
    w.n_mats = 1;
    return w;
  }
};

struct RopeParams {
  RopeType type = RopeType::NORMAL;
  std::int32_t n_rot = 0;     // rotated dims per head (even, <= head_dim); the rest pass through
  std::int32_t head_dim = 0;  // stride between heads
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;    // 1/linear factor
  float ext_factor = 0.0f;    // YaRN extrapolation mix (0: off)
  float attn_factor = 1.0f;   // YaRN magnitude scale
  float beta_fast = 32.0f;
  float beta_slow = 1.0f;
  std::int32_t n_ctx_orig = 0;
};

struct AttentionParams {
  std::int32_t n_head = 0;
  std::int32_t n_head_kv = 0;
  std::int32_t head_dim = 0;    // q/k width per head
  std::int32_t head_dim_v = 0;  // v width per head
  float scale = 1.0f;           // applied to q.k (1/sqrt(head_dim))
  std::int32_t sliding_window = 0;  // 0: full causal; else keys in (pos - window, pos]
};

// Counters for tests and benchmarks (bytes of weights the matmuls read).
struct BackendStats {
  std::uint64_t weight_bytes_read = 0;         // all weights, each matmul counting its rows once
  std::uint64_t expert_weight_bytes_read = 0;  // the part from WeightView::expert tensors
  std::uint64_t matmul_calls = 0;
};

// A backend-owned activation buffer of floats.
class Buffer {
 public:
  virtual ~Buffer() = default;
  virtual float* data() = 0;
  virtual std::size_t size() const = 0;  // floats
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;  // "cpu", "cuda:0"
  virtual int n_threads() const = 0;

  // Checks that every weight can be used (supported type, row sizes) and uploads it if the
  // backend keeps weights elsewhere. The error names the tensor.
  virtual Status prepare_weights(std::span<const WeightView> weights) = 0;

  virtual std::unique_ptr<Buffer> alloc(std::size_t n_floats) = 0;
  // Per-sequence K/V storage for n_layer layers, `capacity` positions, k_width = n_head_kv *
  // head_dim and v_width = n_head_kv * head_dim_v floats per position.
  virtual Result<std::unique_ptr<KvCache>> new_kv_cache(std::int32_t n_layer, std::int32_t capacity,
                                                        std::int32_t k_width, std::int32_t v_width) = 0;

  // out[t, :] = row tokens[t] of the table (any supported type), as floats. tokens are host data
  // and already range-checked.
  virtual void get_rows(const WeightView& table, std::span<const std::int32_t> tokens, float* out) = 0;
  // y[t, r] = sum_c W[r, c] * x[t, c] for t < n_tokens. x: [n_tokens, W.n_cols], y: [n_tokens, W.n_rows].
  virtual void matmul(const WeightView& w, const float* x, std::int64_t n_tokens, float* y) = 0;
  // Several products of the same input (the Q/K/V projections, the FFN gate and up): for each
  // entry, y = W x as matmul() computes it. A backend may run them as one parallel loop (one
  // activation conversion, one barrier); this default calls matmul() for each.
  struct MatmulOut {
    const WeightView* w;
    float* y;
  };
  virtual void matmul_many(std::span<const MatmulOut> outs, const float* x, std::int64_t n_tokens) {
    for (const MatmulOut& o : outs) matmul(*o.w, x, n_tokens, o.y);
  }
  // y[t, :] += bias (an F32 vector of row_len)
  virtual void add_bias(float* y, const WeightView& bias, std::int64_t n_rows) = 0;
  // y[r, :] = x[r, :] / rms(x[r, :]) * weight (F32 vector of row_len). In place when y == x.
  virtual void rms_norm(const float* x, const WeightView& weight, float* y, std::int64_t n_rows,
                        std::int64_t row_len, float eps) = 0;
  // Rotates each head of x: [n_tokens, n_heads, p.head_dim]; token t is at positions[t] (host).
  virtual void rope(float* x, std::int64_t n_tokens, std::int32_t n_heads, std::span<const std::int32_t> positions,
                    const RopeParams& p) = 0;
  // Writes k: [n_tokens, k_width] and v: [n_tokens, v_width] at positions pos0..pos0+n_tokens-1
  // of `layer` (does not change kv.size(); the model commits the size after the whole forward).
  virtual void kv_store(KvCache& kv, std::int32_t layer, std::int32_t pos0, std::int64_t n_tokens, const float* k,
                        const float* v) = 0;
  // Sets the number of valid positions of a cache this backend created (after a forward).
  virtual void kv_set_size(KvCache& kv, std::int32_t n_tokens) = 0;
  // Causal attention of queries q: [n_tokens, n_head, head_dim] at positions pos0.. over the
  // cache's positions 0..pos0+n_tokens-1 of `layer` (stored already), each query seeing the keys
  // at positions <= its own (and within the sliding window). out: [n_tokens, n_head, head_dim_v].
  virtual void attention(const KvCache& kv, std::int32_t layer, const float* q, std::int32_t pos0,
                         std::int64_t n_tokens, float* out, const AttentionParams& p) = 0;
  // out = silu(gate) * up, element-wise over n values.
  virtual void swiglu(const float* gate, const float* up, float* out, std::int64_t n) = 0;
  // y += x over n values.
  virtual void add(float* y, const float* x, std::int64_t n) = 0;
  // out[i, :] = x[rows[i], :]
  virtual void gather_rows(const float* x, std::int64_t row_len, std::span<const std::int32_t> rows, float* out) = 0;
  // y[rows[i], :] += scales[i] * src[i, :]
  virtual void scatter_add_rows(float* y, std::int64_t row_len, const float* src, std::span<const std::int32_t> rows,
                                std::span<const float> scales) = 0;
  // Copies n floats from backend memory to host memory.
  virtual void to_host(const float* src, float* host_dst, std::size_t n) = 0;

  virtual BackendStats& stats() = 0;

  // The first failure of an asynchronous backend (a device kernel launch, copy or allocation
  // that failed inside one of the void ops above), or ok. Sticky: once a device backend has
  // failed, every later op does nothing and this keeps returning the error, so Model::forward
  // reports it instead of returning garbage. The CPU backend never fails.
  virtual Status device_status() { return {}; }
};

struct BackendOptions {
  int n_threads = 0;  // 0: physical cores
};

// The CPU backend (always available).
std::unique_ptr<Backend> make_cpu_backend(const BackendOptions& opts);

// Device backends register here so rapide_inference never links them (the CUDA library links
// rapide_inference, not the other way round). A registered prefix "cuda" makes Model::load accept
// LoadOptions::device "cuda" and "cuda:N", and lets "auto" consider device 0. The CLI's main and
// the CUDA tests call rapide::inference::cuda::register_cuda_backend(). Thread-safe; registering
// a prefix again replaces the earlier factory.
struct DeviceBackendFactory {
  // A backend on device `index` (0-based), or why not (no device, index out of range...).
  Result<std::unique_ptr<Backend>> (*create)(int index, const BackendOptions& opts) = nullptr;
  // Free memory of device `index` in bytes, or why there is no usable device. Used by "auto".
  Result<std::size_t> (*free_bytes)(int index) = nullptr;
};
void register_device_backend(std::string_view prefix, DeviceBackendFactory factory);
// The factory registered for `prefix`, or nullptr.
const DeviceBackendFactory* find_device_backend(std::string_view prefix);

}  // namespace rapide::inference
