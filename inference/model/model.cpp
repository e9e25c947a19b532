// Model: loading (config, architecture file, weights checked against the backend) and the batched
// forward: embeddings -> layers (the architecture's) -> final norm on the wanted rows -> logits.
#include "rapide/inference/model.h"

#include "model/layers.h"
#include "rapide/inference/arch.h"
#include "rapide/inference/gguf.h"

#include <algorithm>
#include <unordered_set>

namespace rapide::inference {

struct Model::Impl {
  std::shared_ptr<const gguf::GgufFile> file;
  ModelConfig config;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<model::ArchModel> arch;
  WeightView tok_embd, output_norm, output;
  std::string device_note;  // which device and why (see Model::device_note)

  // Activations, sized for `capacity_rows` batch rows (grown when a bigger batch arrives).
  std::int64_t capacity_rows = 0;
  std::int64_t capacity_logit_rows = 0;
  std::unique_ptr<Buffer> x, xn, q, k, v, attn, gate, up, out, router, moe_in, moe_out, final_rows, logits;
  model::MoeScratch moe;
  std::vector<std::int32_t> tokens, positions, logit_rows;
  std::vector<model::SeqSlice> seqs;

  void reserve(std::int64_t n_rows, std::int64_t n_logit_rows);
};

void Model::Impl::reserve(std::int64_t n_rows, std::int64_t n_logit_rows) {
  const ModelConfig& c = config;
  if (n_rows > capacity_rows) {
    const std::int64_t n = std::max<std::int64_t>(n_rows, 1);
    const std::int64_t qw = std::int64_t{c.n_head} * c.head_dim, kw = std::int64_t{c.n_head_kv} * c.head_dim,
                       vw = std::int64_t{c.n_head_kv} * c.head_dim_v, ow = std::int64_t{c.n_head} * c.head_dim_v;
    const std::int64_t ffw = std::max({std::int64_t{c.n_ff}, std::int64_t{c.n_ff_exp}, std::int64_t{c.n_ff_shexp}});
    auto a = [&](std::int64_t width) { return backend->alloc(static_cast<std::size_t>(n * std::max<std::int64_t>(width, 1))); };
    x = a(c.n_embd);
    xn = a(c.n_embd);
    q = a(qw);
    k = a(kw);
    v = a(vw);
    attn = a(ow);
    gate = a(ffw);
    up = a(ffw);
    out = a(c.n_embd);
    if (c.is_moe()) {
      router = a(c.n_expert);
      moe_in = a(c.n_embd);
      moe_out = a(c.n_embd);
      const std::size_t ne = static_cast<std::size_t>(c.n_expert), nn = static_cast<std::size_t>(n),
                        kk = static_cast<std::size_t>(c.n_expert_used);
      moe.router.assign(nn * ne, 0.0f);
      moe.probs.assign(ne, 0.0f);
      moe.ids.assign(nn * kk, 0);
      moe.weights.assign(nn * kk, 0.0f);
      moe.count.assign(ne, 0);
      moe.rows.assign(ne * nn, 0);
      moe.scales.assign(ne * nn, 0.0f);
    }
    tokens.reserve(static_cast<std::size_t>(n));
    positions.reserve(static_cast<std::size_t>(n));
    capacity_rows = n;
  }
  if (n_logit_rows > capacity_logit_rows) {
    const std::int64_t n = n_logit_rows;
    final_rows = backend->alloc(static_cast<std::size_t>(n * c.n_embd));
    logits = backend->alloc(static_cast<std::size_t>(n * c.n_vocab));
    logit_rows.reserve(static_cast<std::size_t>(n));
    capacity_logit_rows = n;
  }
}

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;
const ModelConfig& Model::config() const { return impl_->config; }
Backend& Model::backend() { return *impl_->backend; }
const std::string& Model::device_note() const { return impl_->device_note; }

namespace {

// Bytes of every distinct weight tensor (what a device backend uploads).
std::uint64_t weight_bytes(std::span<const WeightView> weights) {
  std::unordered_set<const std::uint8_t*> seen;
  std::uint64_t total = 0;
  for (const WeightView& w : weights)
    if (!w.empty() && seen.insert(w.data).second)
      total += static_cast<std::uint64_t>(w.n_mats) * static_cast<std::uint64_t>(w.n_rows) * w.row_bytes;
  return total;
}

// "cpu", "cuda" / "cuda:N" (any registered prefix) or "auto" -> the backend, and a line saying
// which and why into *note.
Result<std::unique_ptr<Backend>> make_backend(const LoadOptions& opts, const ModelConfig& c,
                                              std::span<const WeightView> weights, std::string* note) {
  BackendOptions bo;
  bo.n_threads = opts.n_threads;
  const std::string& dev = opts.device;
  if (dev == "cpu") {
    *note = "device cpu (asked for)";
    return make_cpu_backend(bo);
  }
  if (dev == "auto") {
    const DeviceBackendFactory* f = find_device_backend("cuda");
    if (!f || !f->create || !f->free_bytes) {
      *note = "device auto -> cpu: this build has no CUDA backend";
      return make_cpu_backend(bo);
    }
    const Result<std::size_t> free_bytes = f->free_bytes(0);
    if (!free_bytes) {
      *note = "device auto -> cpu: no usable CUDA device (" + free_bytes.message() + ")";
      return make_cpu_backend(bo);
    }
    // Weights + a default KV cache (F16 K and V for min(context, 4096) positions) + 10% for
    // activations and scratch must fit in what the device has free.
    const std::int32_t kv_tokens = c.n_ctx_train > 0 ? std::min(c.n_ctx_train, 4096) : 4096;
    const double kv_bytes = 2.0 * c.n_layer * static_cast<double>(kv_tokens) *
                            (static_cast<double>(c.n_head_kv) * c.head_dim + static_cast<double>(c.n_head_kv) * c.head_dim_v);
    const double need = (static_cast<double>(weight_bytes(weights)) + kv_bytes) * 1.1;
    const auto mib = [](double b) { return std::to_string(static_cast<long long>(b / (1 << 20))); };
    if (need > static_cast<double>(*free_bytes)) {
      *note = "device auto -> cpu: the model needs ~" + mib(need) + " MiB (weights + a " + std::to_string(kv_tokens) +
              "-token KV cache) but cuda:0 has " + mib(static_cast<double>(*free_bytes)) + " MiB free";
      return make_cpu_backend(bo);
    }
    auto be = f->create(0, bo);
    if (!be) {
      *note = "device auto -> cpu: cuda:0 failed to start (" + be.message() + ")";
      return make_cpu_backend(bo);
    }
    *note = "device auto -> cuda:0: a CUDA device is present and the model (~" + mib(need) + " MiB) fits in its " +
            mib(static_cast<double>(*free_bytes)) + " MiB free";
    return be;
  }
  // "<prefix>" or "<prefix>:N".
  const std::size_t colon = dev.find(':');
  const std::string prefix = dev.substr(0, colon);
  int index = 0;
  if (colon != std::string::npos) {
    const std::string digits = dev.substr(colon + 1);
    if (digits.empty() || digits.size() > 6 || digits.find_first_not_of("0123456789") != std::string::npos)
      return error("device '", dev, "': expected cpu, auto, ", prefix, " or ", prefix, ":N with N a device index");
    index = std::stoi(digits);
  }
  const DeviceBackendFactory* f = prefix.empty() ? nullptr : find_device_backend(prefix);
  if (!f || !f->create) {
    std::string avail = "cpu, auto";
    if (find_device_backend("cuda")) avail += ", cuda, cuda:N";
    return error("device '", dev, "' is not available in this build (available: ", avail, ")");
  }
  auto be = f->create(index, bo);
  if (!be) return error("device '", dev, "': ", be.message());
  *note = "device " + std::string((*be)->name()) + " (asked for)";
  return be;
}

}  // namespace

Result<std::unique_ptr<Model>> Model::load(std::shared_ptr<const gguf::GgufFile> file, const LoadOptions& opts) {
  if (!file) return error("Model::load: no GGUF file given");
  auto cfg = read_model_config(*file);
  if (!cfg) return cfg.error();
  auto impl = std::make_unique<Impl>();
  impl->file = file;
  impl->config = std::move(*cfg);
  const ModelConfig& c = impl->config;

  model::TensorLoader l(*file, c.arch);
  impl->tok_embd = l.require(TensorKind::TOKEN_EMBD, -1, {c.n_embd, c.n_vocab});
  impl->output_norm = l.require(TensorKind::OUTPUT_NORM, -1, {c.n_embd});
  impl->output = c.tied_output ? impl->tok_embd : l.require(TensorKind::OUTPUT, -1, {c.n_embd, c.n_vocab});
  if (l.err()) return *l.err();
  Result<std::unique_ptr<model::ArchModel>> arch = error("unreachable");
  switch (find_arch(c.arch)->id) {
    case Arch::LLAMA: arch = model::load_llama(c, l); break;
    case Arch::QWEN2: arch = model::load_qwen2(c, l); break;
    case Arch::QWEN3: arch = model::load_qwen3(c, l); break;
    case Arch::QWEN3MOE: arch = model::load_qwen3moe(c, l); break;
  }
  if (!arch) return arch.error();
  impl->arch = std::move(*arch);
  auto backend = make_backend(opts, c, l.all(), &impl->device_note);
  if (!backend) return backend.error();
  impl->backend = std::move(*backend);
  if (Status st = impl->backend->prepare_weights(l.all()); !st) return st.error();
  impl->reserve(1, 1);
  return std::unique_ptr<Model>(new Model(std::move(impl)));
}

Result<std::unique_ptr<KvCache>> Model::new_kv_cache(std::int32_t capacity_tokens) {
  const ModelConfig& c = impl_->config;
  return impl_->backend->new_kv_cache(c.n_layer, capacity_tokens, c.n_head_kv * c.head_dim, c.n_head_kv * c.head_dim_v);
}

Status Model::forward(std::span<const SequenceBatch> batch) {
  Impl& m = *impl_;
  const ModelConfig& c = m.config;

  // Validate everything before touching any cache.
  std::int64_t n_rows = 0, n_logit_rows = 0;
  for (std::size_t s = 0; s < batch.size(); ++s) {
    const SequenceBatch& b = batch[s];
    if (!b.kv) return error("forward: sequence ", s, " has no KV cache");
    for (std::size_t o = 0; o < s; ++o)
      if (batch[o].kv == b.kv) return error("forward: sequences ", o, " and ", s, " share one KV cache");
    const std::int64_t n = static_cast<std::int64_t>(b.tokens.size());
    if (b.kv->size() + n > b.kv->capacity())
      return error("forward: sequence ", s, ": ", b.kv->size(), " cached + ", n, " new tokens exceed the KV cache capacity ",
                   b.kv->capacity());
    for (std::size_t i = 0; i < b.tokens.size(); ++i)
      if (b.tokens[i] < 0 || b.tokens[i] >= c.n_vocab)
        return error("forward: sequence ", s, ": token ", i, " has id ", b.tokens[i], ", outside the vocabulary [0, ",
                     c.n_vocab, ")");
    for (std::int32_t r : b.logit_rows)
      if (r < 0 || r >= n) return error("forward: sequence ", s, ": logit row ", r, " is outside its ", n, " tokens");
    if (!b.logit_rows.empty() && !b.logits) return error("forward: sequence ", s, ": logit rows asked but no logits buffer");
    n_rows += n;
    n_logit_rows += static_cast<std::int64_t>(b.logit_rows.size());
  }
  if (n_rows == 0) return {};
  m.reserve(n_rows, n_logit_rows);

  m.tokens.clear();
  m.positions.clear();
  m.logit_rows.clear();
  m.seqs.clear();
  for (const SequenceBatch& b : batch) {
    model::SeqSlice s;
    s.kv = b.kv;
    s.pos0 = b.kv->size();
    s.row0 = static_cast<std::int64_t>(m.tokens.size());
    s.n = static_cast<std::int64_t>(b.tokens.size());
    for (std::int32_t r : b.logit_rows) m.logit_rows.push_back(static_cast<std::int32_t>(s.row0 + r));
    for (std::size_t i = 0; i < b.tokens.size(); ++i) {
      m.tokens.push_back(b.tokens[i]);
      m.positions.push_back(s.pos0 + static_cast<std::int32_t>(i));
    }
    if (s.n > 0) m.seqs.push_back(s);
  }

  Backend& be = *m.backend;
  model::ForwardContext f{be, c};
  f.n_tokens = n_rows;
  f.positions = m.positions;
  f.seqs = m.seqs;
  f.x = m.x->data();
  f.xn = m.xn->data();
  f.q = m.q->data();
  f.k = m.k->data();
  f.v = m.v->data();
  f.attn = m.attn->data();
  f.gate = m.gate->data();
  f.up = m.up->data();
  f.out = m.out->data();
  if (c.is_moe()) {
    f.router = m.router->data();
    f.moe_in = m.moe_in->data();
    f.moe_out = m.moe_out->data();
    f.moe = &m.moe;
  }

  be.get_rows(m.tok_embd, m.tokens, f.x);
  for (int il = 0; il < c.n_layer; ++il) m.arch->forward_layer(f, il);

  // Commit the new cache sizes (every layer has stored its K/V).
  for (const model::SeqSlice& s : m.seqs) be.kv_set_size(*s.kv, s.pos0 + static_cast<std::int32_t>(s.n));
  if (n_logit_rows > 0) {
    float* rows = m.final_rows->data();
    be.gather_rows(f.x, c.n_embd, m.logit_rows, rows);
    be.rms_norm(rows, m.output_norm, rows, n_logit_rows, c.n_embd, c.rms_eps);
    be.matmul(m.output, rows, n_logit_rows, m.logits->data());
    std::int64_t r = 0;
    for (const SequenceBatch& b : batch) {
      const std::size_t n = b.logit_rows.size() * static_cast<std::size_t>(c.n_vocab);
      if (n) be.to_host(m.logits->data() + r * c.n_vocab, b.logits, n);
      r += static_cast<std::int64_t>(b.logit_rows.size());
    }
  }
  // A device backend's asynchronous failures surface here (to_host has synchronised).
  if (Status st = be.device_status(); !st) return error("forward on ", std::string(be.name()), ": ", st.message());
  return {};
}

}  // namespace rapide::inference
