// CudaBackend: the Backend interface on one NVIDIA GPU (see cuda_backend.h). This file owns the
// device state and the dispatch; each op's kernel lives in its own file pair (rms_norm, rope,
// attention, ...), the matrix products behind MatmulRunner (matmul.cuh).
//
// Memory (all RAII, no managed memory):
//   * weights: one device block per prepare_weights() call holding every tensor in its GGUF
//     bytes; ops find a tensor's device copy from the WeightView's host data pointer (a map from
//     each tensor's host range to its device address, so expert sub-matrices resolve too).
//   * Buffers and KV caches: cudaMalloc'd by alloc() / new_kv_cache(); the cache stores F16 K/V in
//     the CPU backend's layout.
//   * host inputs (token ids, positions, MoE rows and scales): copied into a pinned staging arena
//     and sent with cudaMemcpyAsync into a device arena at the same offset. The host side of a
//     region is only rewritten after a stream synchronisation (to_host, or a wrap of the arena),
//     so an in-flight copy never reads overwritten bytes. The arenas grow (rarely) when one input
//     is larger than their capacity; nothing else allocates on the hot path except the attention
//     split-K scratch, which grows to the largest decode shape once.
//   * to_host: device -> pinned staging (async) -> synchronise -> memcpy to the caller.
//
// Errors: ops return nothing, so the first failure (launch, copy, validation) is kept in error_
// and every later op is skipped; device_status() reports it and Model::forward returns it.
// Threading: one stream, used by the one thread driving the backend.
#include "rapide/inference/cuda/cuda_backend.h"

#include "add.cuh"
#include "add_bias.cuh"
#include "attention.cuh"
#include "cuda_util.cuh"
#include "gather_rows.cuh"
#include "kv_store.cuh"
#include "matmul.cuh"
#include "rms_norm.cuh"
#include "rope.cuh"
#include "scatter_add_rows.cuh"
#include "swiglu.cuh"

#include "rapide/inference/rope_math.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <vector>

namespace rapide::inference::cuda {
namespace {

std::string mib(std::size_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

class CudaBuffer final : public Buffer {
 public:
  CudaBuffer(DevicePtr<float> p, std::size_t n) : p_(std::move(p)), n_(n) {}
  float* data() override { return p_.get(); }
  std::size_t size() const override { return n_; }

 private:
  DevicePtr<float> p_;
  std::size_t n_;
};

// K and V as F16 bits: k_[((layer * capacity) + pos) * k_width + i], same for v_ with v_width.
class CudaKvCache final : public KvCache {
 public:
  CudaKvCache(int device, std::int32_t n_layer, std::int32_t capacity, std::int32_t k_width, std::int32_t v_width,
              DevicePtr<std::uint16_t> k, DevicePtr<std::uint16_t> v)
      : device_(device), n_layer_(n_layer), capacity_(capacity), k_width_(k_width), v_width_(v_width), k_(std::move(k)),
        v_(std::move(v)) {}
  std::int32_t size() const override { return size_; }
  std::int32_t capacity() const override { return capacity_; }
  void truncate(std::int32_t n_tokens) override {
    if (n_tokens < 0) n_tokens = 0;
    if (n_tokens < size_) size_ = n_tokens;
  }
  std::size_t bytes() const override {
    return static_cast<std::size_t>(n_layer_) * static_cast<std::size_t>(capacity_) *
           (static_cast<std::size_t>(k_width_) + static_cast<std::size_t>(v_width_)) * sizeof(std::uint16_t);
  }

  void set_size(std::int32_t n) { size_ = n; }
  int device() const { return device_; }
  std::int32_t n_layer() const { return n_layer_; }
  std::int32_t k_width() const { return k_width_; }
  std::int32_t v_width() const { return v_width_; }
  std::uint16_t* k_layer(std::int32_t layer) const {
    return k_.get() + static_cast<std::size_t>(layer) * static_cast<std::size_t>(capacity_) * static_cast<std::size_t>(k_width_);
  }
  std::uint16_t* v_layer(std::int32_t layer) const {
    return v_.get() + static_cast<std::size_t>(layer) * static_cast<std::size_t>(capacity_) * static_cast<std::size_t>(v_width_);
  }

 private:
  int device_;
  std::int32_t n_layer_, capacity_, k_width_, v_width_;
  std::int32_t size_ = 0;
  DevicePtr<std::uint16_t> k_, v_;
};

struct StreamDestroy {
  void operator()(cudaStream_t s) const { cudaStreamDestroy(s); }
};
struct CublasDestroy {
  void operator()(cublasHandle_t h) const { cublasDestroy(h); }
};
using StreamPtr = std::unique_ptr<CUstream_st, StreamDestroy>;
using CublasPtr = std::unique_ptr<cublasContext, CublasDestroy>;

constexpr std::size_t kUploadArenaBytes = 1 << 20;  // initial host-input arena (grows on demand)
constexpr std::size_t kWeightAlign = 256;

class CudaBackend final : public Backend {
 public:
  CudaBackend(int device, int n_sm, StreamPtr stream, CublasPtr cublas)
      : device_(device), n_sm_(n_sm), name_("cuda:" + std::to_string(device)), stream_(std::move(stream)),
        cublas_(std::move(cublas)), runner_(std::make_unique<MatmulRunner>(cublas_.get(), stream_.get())) {}

  ~CudaBackend() override {
    cudaSetDevice(device_);
    cudaStreamSynchronize(stream_.get());  // nothing in flight reads memory freed below
  }

  // Second construction step (allocations that can fail).
  std::string init() {
    if (std::string e = grow_upload(kUploadArenaBytes); !e.empty()) return e;
    return grow_download(1 << 16);
  }

  std::string_view name() const override { return name_; }
  int n_threads() const override { return 1; }

  Status prepare_weights(std::span<const WeightView> weights) override;
  std::unique_ptr<Buffer> alloc(std::size_t n_floats) override;
  Result<std::unique_ptr<KvCache>> new_kv_cache(std::int32_t n_layer, std::int32_t capacity, std::int32_t k_width,
                                                std::int32_t v_width) override;
  void get_rows(const WeightView& table, std::span<const std::int32_t> tokens, float* out) override;
  void matmul(const WeightView& w, const float* x, std::int64_t n_tokens, float* y) override;
  void matmul_many(std::span<const MatmulOut> outs, const float* x, std::int64_t n_tokens) override {
    for (const MatmulOut& o : outs) matmul(*o.w, x, n_tokens, o.y);
  }
  void add_bias(float* y, const WeightView& bias, std::int64_t n_rows) override;
  void rms_norm(const float* x, const WeightView& weight, float* y, std::int64_t n_rows, std::int64_t row_len,
                float eps) override;
  void rope(float* x, std::int64_t n_tokens, std::int32_t n_heads, std::span<const std::int32_t> positions,
            const RopeParams& p) override;
  void kv_store(KvCache& kv, std::int32_t layer, std::int32_t pos0, std::int64_t n_tokens, const float* k,
                const float* v) override;
  void kv_set_size(KvCache& kv, std::int32_t n_tokens) override;
  void attention(const KvCache& kv, std::int32_t layer, const float* q, std::int32_t pos0, std::int64_t n_tokens,
                 float* out, const AttentionParams& p) override;
  void swiglu(const float* gate, const float* up, float* out, std::int64_t n) override;
  void add(float* y, const float* x, std::int64_t n) override;
  void gather_rows(const float* x, std::int64_t row_len, std::span<const std::int32_t> rows, float* out) override;
  void scatter_add_rows(float* y, std::int64_t row_len, const float* src, std::span<const std::int32_t> rows,
                        std::span<const float> scales) override;
  void to_host(const float* src, float* host_dst, std::size_t n) override;
  BackendStats& stats() override { return stats_; }
  Status device_status() override {
    if (error_.empty()) return {};
    return error(error_);
  }

  // For tests and tools: host floats into backend memory (synchronous).
  std::string copy_from_host(const float* host_src, float* dst, std::size_t n);

 private:
  struct WeightEntry {
    const std::uint8_t* host_end;
    std::uint8_t* device;
  };

  // False (and the op is skipped) once an error has been recorded; else makes device_ current.
  bool begin() {
    if (!error_.empty()) return false;
    if (std::string e = cuda_error("cudaSetDevice", cudaSetDevice(device_)); !e.empty()) return fail(e);
    return true;
  }
  bool fail(const std::string& e) {
    if (error_.empty()) error_ = name_ + ": " + e;
    return false;
  }
  bool check(const std::string& e) { return e.empty() || fail(e); }

  // The device copy of a weight view (any part of an uploaded tensor), or null after fail().
  bool device_weight(const WeightView& w, DeviceWeight* out);
  const float* device_vector(const WeightView& w);
  // Host bytes -> device arena; returns the device address or null after fail().
  const void* upload(const void* src, std::size_t bytes);
  std::string grow_upload(std::size_t bytes);
  std::string grow_download(std::size_t floats);
  void count_read(const WeightView& w) {
    const std::uint64_t bytes = static_cast<std::uint64_t>(w.n_rows) * w.row_bytes;
    stats_.weight_bytes_read += bytes;
    if (w.expert) stats_.expert_weight_bytes_read += bytes;
    ++stats_.matmul_calls;
  }

  int device_;
  int n_sm_;
  std::string name_;
  std::string error_;
  BackendStats stats_;
  // Declared before everything that uses them, so they are destroyed last.
  StreamPtr stream_;
  CublasPtr cublas_;
  std::unique_ptr<MatmulRunner> runner_;

  std::vector<DevicePtr<std::uint8_t>> weight_blocks_;
  std::map<const std::uint8_t*, WeightEntry> weights_;  // key: host begin of each tensor

  PinnedPtr<std::uint8_t> up_host_;
  DevicePtr<std::uint8_t> up_dev_;
  std::size_t up_cap_ = 0, up_used_ = 0;
  PinnedPtr<float> down_host_;
  std::size_t down_cap_ = 0;
  DevicePtr<float> attn_scratch_;
  std::size_t attn_scratch_floats_ = 0;
};

// ---- memory -----------------------------------------------------------------------------------

std::string CudaBackend::grow_upload(std::size_t bytes) {
  if (up_cap_ > 0)
    if (std::string e = cuda_error("synchronise before growing the input arena", cudaStreamSynchronize(stream_.get()));
        !e.empty())
      return e;
  const std::size_t cap = std::max(bytes, 2 * up_cap_);
  up_dev_.reset();
  up_host_.reset();
  up_cap_ = up_used_ = 0;
  if (std::string e = pinned_alloc(cap, &up_host_, "input staging cudaMallocHost"); !e.empty()) return e;
  if (std::string e = device_alloc(cap, &up_dev_, "input arena cudaMalloc"); !e.empty()) return e;
  up_cap_ = cap;
  return {};
}

std::string CudaBackend::grow_download(std::size_t floats) {
  down_host_.reset();
  down_cap_ = 0;
  if (std::string e = pinned_alloc(floats, &down_host_, "output staging cudaMallocHost"); !e.empty()) return e;
  down_cap_ = floats;
  return {};
}

const void* CudaBackend::upload(const void* src, std::size_t bytes) {
  const std::size_t aligned = (bytes + 15) & ~std::size_t{15};
  if (up_used_ + aligned > up_cap_) {
    // Wrap: every earlier copy must have read its host bytes before they are overwritten.
    if (!check(cuda_error("synchronise the input arena", cudaStreamSynchronize(stream_.get())))) return nullptr;
    up_used_ = 0;
    if (aligned > up_cap_ && !check(grow_upload(aligned))) return nullptr;
  }
  std::uint8_t* h = up_host_.get() + up_used_;
  std::uint8_t* d = up_dev_.get() + up_used_;
  if (bytes) std::memcpy(h, src, bytes);
  if (bytes && !check(cuda_error("host input cudaMemcpyAsync", cudaMemcpyAsync(d, h, bytes, cudaMemcpyHostToDevice, stream_.get()))))
    return nullptr;
  up_used_ += aligned;
  return d;
}

std::string CudaBackend::copy_from_host(const float* host_src, float* dst, std::size_t n) {
  if (!begin()) return error_;
  if (n == 0) return {};
  if (std::string e = cuda_error("copy_from_host cudaMemcpyAsync",
                                 cudaMemcpyAsync(dst, host_src, n * sizeof(float), cudaMemcpyHostToDevice, stream_.get()));
      !e.empty())
    return e;
  return cuda_error("copy_from_host synchronise", cudaStreamSynchronize(stream_.get()));
}

Status CudaBackend::prepare_weights(std::span<const WeightView> weights) {
  if (!begin()) return error(error_);
  // Validate everything and plan one block for the tensors not uploaded yet.
  struct Plan {
    const WeightView* w;
    std::size_t bytes, offset;
  };
  std::vector<Plan> plan;
  std::map<const std::uint8_t*, std::size_t> planned;  // host begin -> index in plan
  std::size_t total = 0;
  std::int64_t max_cols = 0, max_rows = 0;
  for (const WeightView& w : weights) {
    if (w.empty()) continue;
    const std::string name(w.name);
    if (w.n_cols <= 0 || w.n_rows <= 0 || w.n_mats <= 0 || w.row_bytes == 0)
      return error("tensor '", name, "': empty shape [", w.n_cols, ",", w.n_rows, ",", w.n_mats, "]");
    // F32 vectors (norms, biases) are read by the element-wise kernels; everything else by the
    // matmul / get_rows kernels.
    const bool f32_vector = w.n_rows == 1 && w.n_mats == 1 && w.type == TensorType::F32;
    if (!f32_vector)
      if (std::string why = matmul_supports(w.type, w.n_cols); !why.empty())
        return error("tensor '", name, "': not usable by the CUDA backend: ", why);
    if (weights_.count(w.data) || planned.count(w.data)) continue;  // tied embeddings, a second call
    const std::size_t bytes = static_cast<std::size_t>(w.n_mats) * static_cast<std::size_t>(w.n_rows) * w.row_bytes;
    planned[w.data] = plan.size();
    plan.push_back({&w, bytes, total});
    total += (bytes + kWeightAlign - 1) / kWeightAlign * kWeightAlign;
    max_cols = std::max(max_cols, w.n_cols);
    max_rows = std::max(max_rows, w.n_rows);
  }
  if (!plan.empty()) {
    std::size_t free_b = 0, total_b = 0;
    if (std::string e = cuda_error("cudaMemGetInfo", cudaMemGetInfo(&free_b, &total_b)); !e.empty()) return error(e);
    if (total + (64u << 20) > free_b)
      return error("the model's weights need ", mib(total), " but ", name_, " has ", mib(free_b), " free of ", mib(total_b),
                   ": use a smaller quantisation or --device cpu");
    DevicePtr<std::uint8_t> block;
    if (std::string e = device_alloc(total, &block, "weights cudaMalloc"); !e.empty()) return error(name_, ": ", e);
    for (const Plan& p : plan) {
      if (std::string e = cuda_error("weights cudaMemcpy",
                                     cudaMemcpy(block.get() + p.offset, p.w->data, p.bytes, cudaMemcpyHostToDevice));
          !e.empty())
        return error("tensor '", std::string(p.w->name), "': upload to ", name_, " failed: ", e);
    }
    for (const Plan& p : plan) weights_[p.w->data] = WeightEntry{p.w->data + p.bytes, block.get() + p.offset};
    weight_blocks_.push_back(std::move(block));
  }
  // Scratch of the matrix products for decode-sized batches, so decoding never allocates.
  if (max_cols > 0)
    if (std::string e = runner_->reserve(max_cols, max_rows, kMaxGemvTokens); !e.empty())
      return error(name_, ": matmul scratch: ", e);
  return {};
}

bool CudaBackend::device_weight(const WeightView& w, DeviceWeight* out) {
  auto it = weights_.upper_bound(w.data);
  const std::size_t bytes = static_cast<std::size_t>(w.n_mats) * static_cast<std::size_t>(w.n_rows) * w.row_bytes;
  if (it == weights_.begin() || w.data == nullptr)
    return fail("tensor '" + std::string(w.name) + "' was not uploaded by prepare_weights()");
  --it;
  if (w.data + bytes > it->second.host_end)
    return fail("tensor '" + std::string(w.name) + "': view reaches past the uploaded tensor (not uploaded by prepare_weights()?)");
  out->type = w.type;
  out->data = it->second.device + (w.data - it->first);
  out->n_cols = w.n_cols;
  out->n_rows = w.n_rows;
  out->n_mats = w.n_mats;
  out->row_bytes = w.row_bytes;
  return true;
}

const float* CudaBackend::device_vector(const WeightView& w) {
  if (w.type != TensorType::F32) {
    fail("tensor '" + std::string(w.name) + "': norm/bias vectors must be F32");
    return nullptr;
  }
  DeviceWeight dw;
  if (!device_weight(w, &dw)) return nullptr;
  return reinterpret_cast<const float*>(dw.data);
}

std::unique_ptr<Buffer> CudaBackend::alloc(std::size_t n_floats) {
  DevicePtr<float> p;
  if (begin()) check(device_alloc(n_floats, &p, "activation buffer cudaMalloc"));
  // After a failure the buffer has a null pointer; every op is skipped and device_status() says why.
  return std::make_unique<CudaBuffer>(std::move(p), p ? n_floats : 0);
}

Result<std::unique_ptr<KvCache>> CudaBackend::new_kv_cache(std::int32_t n_layer, std::int32_t capacity,
                                                           std::int32_t k_width, std::int32_t v_width) {
  if (!begin()) return error(error_);
  if (capacity <= 0) return error("KV cache capacity must be positive, got ", capacity);
  if (n_layer <= 0 || k_width <= 0 || v_width <= 0)
    return error("KV cache: n_layer (", n_layer, "), k_width (", k_width, ") and v_width (", v_width, ") must be positive");
  const std::size_t per = static_cast<std::size_t>(n_layer) * static_cast<std::size_t>(capacity);
  const std::size_t k_bytes = per * static_cast<std::size_t>(k_width) * 2, v_bytes = per * static_cast<std::size_t>(v_width) * 2;
  std::size_t free_b = 0, total_b = 0;
  if (std::string e = cuda_error("cudaMemGetInfo", cudaMemGetInfo(&free_b, &total_b)); !e.empty()) return error(name_, ": ", e);
  if (k_bytes + v_bytes + (32u << 20) > free_b)
    return error("KV cache of ", capacity, " tokens would take ", mib(k_bytes + v_bytes), " but ", name_, " has ", mib(free_b),
                 " free: ask for fewer tokens");
  DevicePtr<std::uint16_t> k, v;
  if (std::string e = device_alloc(per * static_cast<std::size_t>(k_width), &k, "KV cache cudaMalloc"); !e.empty())
    return error(name_, ": ", e);
  if (std::string e = device_alloc(per * static_cast<std::size_t>(v_width), &v, "KV cache cudaMalloc"); !e.empty())
    return error(name_, ": ", e);
  // Zeroed like the CPU cache (never read before written, but deterministic for debugging).
  if (std::string e = cuda_error("KV cache cudaMemset", cudaMemset(k.get(), 0, k_bytes)); !e.empty()) return error(name_, ": ", e);
  if (std::string e = cuda_error("KV cache cudaMemset", cudaMemset(v.get(), 0, v_bytes)); !e.empty()) return error(name_, ": ", e);
  std::unique_ptr<KvCache> kv =
      std::make_unique<CudaKvCache>(device_, n_layer, capacity, k_width, v_width, std::move(k), std::move(v));
  return kv;
}

// ---- ops --------------------------------------------------------------------------------------

void CudaBackend::get_rows(const WeightView& table, std::span<const std::int32_t> tokens, float* out) {
  if (tokens.empty() || !begin()) return;
  DeviceWeight dw;
  if (!device_weight(table, &dw)) return;
  const auto* d_tokens = static_cast<const std::int32_t*>(upload(tokens.data(), tokens.size_bytes()));
  if (!d_tokens) return;
  const std::string e = cuda::get_rows(dw, d_tokens, static_cast<std::int64_t>(tokens.size()), out, stream_.get());
  if (!check(e.empty() ? std::string() : "get_rows '" + std::string(table.name) + "': " + e)) return;
  stats_.weight_bytes_read += static_cast<std::uint64_t>(tokens.size()) * table.row_bytes;
}

void CudaBackend::matmul(const WeightView& w, const float* x, std::int64_t n_tokens, float* y) {
  if (n_tokens <= 0 || !begin()) return;
  DeviceWeight dw;
  if (!device_weight(w, &dw)) return;
  count_read(w);
  const std::string e = runner_->run(dw, x, n_tokens, y);
  check(e.empty() ? std::string() : "matmul '" + std::string(w.name) + "': " + e);
}

void CudaBackend::add_bias(float* y, const WeightView& bias, std::int64_t n_rows) {
  if (n_rows <= 0 || !begin()) return;
  const float* b = device_vector(bias);
  if (!b) return;
  check(cuda::add_bias(AddBiasParams{y, b, n_rows, bias.n_cols}, stream_.get()));
}

void CudaBackend::rms_norm(const float* x, const WeightView& weight, float* y, std::int64_t n_rows, std::int64_t row_len,
                           float eps) {
  if (n_rows <= 0 || !begin()) return;
  const float* w = nullptr;
  if (!weight.empty()) {
    if (weight.n_cols != row_len) {
      fail("rms_norm: weight '" + std::string(weight.name) + "' has " + std::to_string(weight.n_cols) + " values, rows have " +
           std::to_string(row_len));
      return;
    }
    if (!(w = device_vector(weight))) return;
  }
  RmsNormParams p{x, w, y, n_rows, row_len, row_len, row_len, eps};
  check(rms_norm_f32_async(p, stream_.get()));
}

void CudaBackend::rope(float* x, std::int64_t n_tokens, std::int32_t n_heads, std::span<const std::int32_t> positions,
                       const RopeParams& p) {
  if (n_tokens <= 0 || !begin()) return;
  if (static_cast<std::int64_t>(positions.size()) < n_tokens) {
    fail("rope: " + std::to_string(positions.size()) + " positions for " + std::to_string(n_tokens) + " tokens");
    return;
  }
  const auto* d_pos = static_cast<const std::int32_t*>(upload(positions.data(), static_cast<std::size_t>(n_tokens) * sizeof(std::int32_t)));
  if (!d_pos) return;
  RopeKernelParams k;
  k.x = x;
  k.positions = d_pos;
  k.n_tokens = n_tokens;
  k.n_heads = n_heads;
  k.head_dim = p.head_dim;
  k.n_rot = p.n_rot;
  k.neox = p.type == RopeType::NEOX;
  k.freq_base = p.freq_base;
  k.freq_scale = p.freq_scale;
  k.ext_factor = p.ext_factor;
  k.attn_factor = p.attn_factor;
  if (p.ext_factor != 0.0f) rope_yarn_corr_dims(p.n_rot, p.n_ctx_orig, p.freq_base, p.beta_fast, p.beta_slow, k.corr_dims);
  check(cuda::rope(k, stream_.get()));
}

void CudaBackend::kv_store(KvCache& kv_base, std::int32_t layer, std::int32_t pos0, std::int64_t n_tokens, const float* k,
                           const float* v) {
  if (n_tokens <= 0 || !begin()) return;
  auto* kv = dynamic_cast<CudaKvCache*>(&kv_base);
  if (!kv || kv->device() != device_) {
    fail("kv_store: the KV cache was not created by this backend");
    return;
  }
  if (layer < 0 || layer >= kv->n_layer()) {
    fail("kv_store: layer " + std::to_string(layer) + " outside the cache's " + std::to_string(kv->n_layer()) + " layers");
    return;
  }
  KvStoreParams p;
  p.k_cache = kv->k_layer(0);
  p.v_cache = kv->v_layer(0);
  p.k = k;
  p.v = v;
  p.layer = layer;
  p.capacity = kv->capacity();
  p.pos0 = pos0;
  p.n_tokens = n_tokens;
  p.k_width = kv->k_width();
  p.v_width = kv->v_width();
  check(cuda::kv_store(p, stream_.get()));
}

void CudaBackend::kv_set_size(KvCache& kv_base, std::int32_t n_tokens) {
  auto* kv = dynamic_cast<CudaKvCache*>(&kv_base);
  if (!kv) {
    fail("kv_set_size: the KV cache was not created by this backend");
    return;
  }
  kv->set_size(std::clamp(n_tokens, 0, kv->capacity()));
}

void CudaBackend::attention(const KvCache& kv_base, std::int32_t layer, const float* q, std::int32_t pos0,
                            std::int64_t n_tokens, float* out, const AttentionParams& ap) {
  if (n_tokens <= 0 || !begin()) return;
  const auto* kv = dynamic_cast<const CudaKvCache*>(&kv_base);
  if (!kv || kv->device() != device_) {
    fail("attention: the KV cache was not created by this backend");
    return;
  }
  if (layer < 0 || layer >= kv->n_layer()) {
    fail("attention: layer " + std::to_string(layer) + " outside the cache's " + std::to_string(kv->n_layer()) + " layers");
    return;
  }
  if (static_cast<std::int64_t>(ap.n_head_kv) * ap.head_dim != kv->k_width() ||
      static_cast<std::int64_t>(ap.n_head_kv) * ap.head_dim_v != kv->v_width()) {
    fail("attention: n_head_kv " + std::to_string(ap.n_head_kv) + " x head_dim " + std::to_string(ap.head_dim) + "/" +
         std::to_string(ap.head_dim_v) + " does not match the cache's K/V widths " + std::to_string(kv->k_width()) + "/" +
         std::to_string(kv->v_width()));
    return;
  }
  AttentionKernelParams p;
  p.q = q;
  p.k = kv->k_layer(layer);
  p.v = kv->v_layer(layer);
  p.out = out;
  p.pos0 = pos0;
  p.n_tokens = n_tokens;
  p.capacity = kv->capacity();
  p.n_head = ap.n_head;
  p.n_head_kv = ap.n_head_kv;
  p.head_dim = ap.head_dim;
  p.head_dim_v = ap.head_dim_v;
  p.scale = ap.scale;
  p.sliding_window = ap.sliding_window;
  const std::size_t need = attention_scratch_floats(p, n_sm_);
  if (need > attn_scratch_floats_) {
    // Grows to the largest decode shape once (cudaFree/cudaMalloc synchronise the device).
    attn_scratch_.reset();
    attn_scratch_floats_ = 0;
    if (!check(device_alloc(need, &attn_scratch_, "attention scratch cudaMalloc"))) return;
    attn_scratch_floats_ = need;
  }
  p.scratch = attn_scratch_.get();
  p.scratch_floats = attn_scratch_floats_;
  check(cuda::attention(p, n_sm_, stream_.get()));
}

void CudaBackend::swiglu(const float* gate, const float* up, float* out, std::int64_t n) {
  if (n <= 0 || !begin()) return;
  check(cuda::swiglu(SwigluParams{gate, up, out, n}, stream_.get()));
}

void CudaBackend::add(float* y, const float* x, std::int64_t n) {
  if (n <= 0 || !begin()) return;
  check(cuda::add(AddParams{y, x, n}, stream_.get()));
}

void CudaBackend::gather_rows(const float* x, std::int64_t row_len, std::span<const std::int32_t> rows, float* out) {
  if (rows.empty() || row_len <= 0 || !begin()) return;
  for (std::int32_t r : rows)
    if (r < 0) {
      fail("gather_rows: negative row index " + std::to_string(r));
      return;
    }
  const auto* d_rows = static_cast<const std::int32_t*>(upload(rows.data(), rows.size_bytes()));
  if (!d_rows) return;
  check(cuda::gather_rows(GatherRowsParams{x, d_rows, out, static_cast<std::int64_t>(rows.size()), row_len}, stream_.get()));
}

void CudaBackend::scatter_add_rows(float* y, std::int64_t row_len, const float* src, std::span<const std::int32_t> rows,
                                   std::span<const float> scales) {
  if (rows.empty() || row_len <= 0 || !begin()) return;
  if (scales.size() < rows.size()) {
    fail("scatter_add_rows: " + std::to_string(scales.size()) + " scales for " + std::to_string(rows.size()) + " rows");
    return;
  }
  for (std::int32_t r : rows)
    if (r < 0) {
      fail("scatter_add_rows: negative row index " + std::to_string(r));
      return;
    }
  const auto* d_rows = static_cast<const std::int32_t*>(upload(rows.data(), rows.size_bytes()));
  if (!d_rows) return;
  const auto* d_scales = static_cast<const float*>(upload(scales.data(), rows.size() * sizeof(float)));
  if (!d_scales) return;
  check(cuda::scatter_add_rows(
      ScatterAddRowsParams{y, src, d_rows, d_scales, static_cast<std::int64_t>(rows.size()), row_len}, stream_.get()));
}

void CudaBackend::to_host(const float* src, float* host_dst, std::size_t n) {
  if (n == 0 || !begin()) return;
  if (n > down_cap_) {
    if (!check(cuda_error("synchronise before growing the output staging", cudaStreamSynchronize(stream_.get())))) return;
    if (!check(grow_download(std::max(n, 2 * down_cap_)))) return;
  }
  if (!check(cuda_error("to_host cudaMemcpyAsync",
                        cudaMemcpyAsync(down_host_.get(), src, n * sizeof(float), cudaMemcpyDeviceToHost, stream_.get()))))
    return;
  // The synchronisation also reports any earlier asynchronous kernel fault.
  if (!check(cuda_error("to_host synchronise (an earlier kernel may have failed)", cudaStreamSynchronize(stream_.get()))))
    return;
  up_used_ = 0;  // every queued input copy has completed
  std::memcpy(host_dst, down_host_.get(), n * sizeof(float));
}

// ---- factory and registration -------------------------------------------------------------------

Result<int> device_count() {
  int count = 0;
  if (cudaError_t err = cudaGetDeviceCount(&count); err != cudaSuccess) {
    cudaGetLastError();
    return error("no usable CUDA device: ", cuda_error("cudaGetDeviceCount", err));
  }
  if (count == 0) return error("no usable CUDA device: the driver reports none");
  return count;
}

Result<std::size_t> free_bytes(int index) {
  auto count = device_count();
  if (!count) return count.error();
  if (index < 0 || index >= *count) return error("there is no CUDA device ", index, " (", *count, " present)");
  if (std::string e = cuda_error("cudaSetDevice", cudaSetDevice(index)); !e.empty()) return error(e);
  std::size_t free_b = 0, total_b = 0;
  if (std::string e = cuda_error("cudaMemGetInfo", cudaMemGetInfo(&free_b, &total_b)); !e.empty()) return error(e);
  return free_b;
}

}  // namespace

Result<std::unique_ptr<Backend>> make_cuda_backend(int device_index, const BackendOptions& opts) {
  (void)opts;
  auto count = device_count();
  if (!count) return count.error();
  if (device_index < 0 || device_index >= *count)
    return error("there is no CUDA device ", device_index, " (", *count, " present: cuda:0..cuda:", *count - 1, ")");
  if (std::string e = cuda_error("cudaSetDevice", cudaSetDevice(device_index)); !e.empty()) return error(e);
  int n_sm = 0;
  if (std::string e = cuda_error("cudaDeviceGetAttribute(multiprocessor count)",
                                 cudaDeviceGetAttribute(&n_sm, cudaDevAttrMultiProcessorCount, device_index));
      !e.empty())
    return error(e);
  cudaStream_t s = nullptr;
  if (std::string e = cuda_error("cudaStreamCreateWithFlags", cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking)); !e.empty())
    return error(e);
  StreamPtr stream(s);
  cublasHandle_t h = nullptr;
  if (cublasStatus_t st = cublasCreate(&h); st != CUBLAS_STATUS_SUCCESS)
    return error("cublasCreate failed: ", cublasGetStatusString(st));
  CublasPtr cublas(h);
  if (cublasStatus_t st = cublasSetStream(h, s); st != CUBLAS_STATUS_SUCCESS)
    return error("cublasSetStream failed: ", cublasGetStatusString(st));
  auto be = std::make_unique<CudaBackend>(device_index, n_sm, std::move(stream), std::move(cublas));
  if (std::string e = be->init(); !e.empty()) return error("cuda:", device_index, ": ", e);
  std::unique_ptr<Backend> out = std::move(be);
  return out;
}

void register_cuda_backend() {
  DeviceBackendFactory f;
  f.create = &make_cuda_backend;
  f.free_bytes = &free_bytes;
  register_device_backend("cuda", f);
}

Status copy_from_host(Backend& backend, const float* host_src, float* dst, std::size_t n) {
  auto* be = dynamic_cast<CudaBackend*>(&backend);
  if (!be) return error("copy_from_host: '", std::string(backend.name()), "' is not a CUDA backend");
  if (std::string e = be->copy_from_host(host_src, dst, n); !e.empty()) return error(e);
  return {};
}

}  // namespace rapide::inference::cuda
