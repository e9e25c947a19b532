// make_model: plan the tensors of an architecture, pick each one's type, generate seeded random
// rows in parallel chunks, quantize them and stream them through GgufWriter.
//
// Where the time goes: for the 1.5B preset at Q8_0 about 1.5 G values are drawn (one 64-bit
// splitmix step each) and quantized; chunks of rows are spread over the threads and written in
// order, so memory stays at one batch (~64 MiB) however large the model.
#include "rapide/inference/make_model.h"

#include "rapide/inference/gguf.h"
#include "rapide/inference/gguf_writer.h"
#include "rapide/inference/quant.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

namespace rapide::inference {
namespace {

constexpr std::int64_t kMaxExperts = 512;               // LLAMA_MAX_EXPERTS
constexpr std::uint64_t kChunkElements = 1u << 18;      // values per generated chunk
constexpr std::uint64_t kBatchBytes = 64ull << 20;      // output bytes per parallel batch

enum class Init { Normal, One };

struct PlannedTensor {
  std::string name;
  std::vector<std::int64_t> dims;
  Init init = Init::Normal;
  double std = 0;  // for Init::Normal
  TensorType type = TensorType::F32;
};

std::uint64_t splitmix(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::uint64_t hash_name(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  return h;
}

// Irwin-Hall with four 16-bit uniforms from one draw: mean 0, std 1, within +-3.46.
void fill_normal(float* out, std::uint64_t n, double std, std::uint64_t state) {
  const float scale = static_cast<float>(std * std::sqrt(3.0) / 65536.0);
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::uint64_t u = splitmix(state);
    const std::int64_t sum = static_cast<std::int64_t>((u & 0xffff) + ((u >> 16) & 0xffff) + ((u >> 32) & 0xffff) + (u >> 48));
    out[i] = static_cast<float>(sum - 131070) * scale;
  }
}

bool use_more_bits(std::int64_t i_layer, std::int64_t n_layer) {
  return i_layer < n_layer / 8 || i_layer >= 7 * n_layer / 8 || (i_layer - n_layer / 8) % 3 == 2;
}

std::int64_t layer_of(std::string_view name) {
  if (!name.starts_with("blk.")) return -1;
  std::int64_t v = -1;
  const char* b = name.data() + 4;
  std::from_chars(b, name.data() + name.size(), v);
  return v;
}

bool ends_with(std::string_view s, std::string_view suffix) { return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix; }
bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

}  // namespace

// llama_ftype ids (include/llama.h) for general.file_type.
std::uint32_t file_type_id(const WeightFormat& f) {
  if (f.q4_k_m) return 15;
  switch (f.type) {
    case TensorType::F32: return 0;
    case TensorType::F16: return 1;
    case TensorType::Q4_0: return 2;
    case TensorType::Q8_0: return 7;
    case TensorType::Q4_K: return 14;  // Q4_K_S: the closest llama_ftype to an all-Q4_K file
    case TensorType::Q5_K: return 16;  // Q5_K_S
    case TensorType::Q6_K: return 18;
    case TensorType::BF16: return 32;
    default: return 0;
  }
}

namespace {

bool is_moe_arch_supported(const ModelDims& d) { return d.arch == "llama" || d.arch == "qwen3moe"; }

std::vector<PlannedTensor> plan_tensors(const ModelDims& d) {
  std::vector<PlannedTensor> t;
  const double residual_scale = 1.0 / std::sqrt(2.0 * static_cast<double>(d.n_layer));
  auto weight = [&t](std::string name, std::vector<std::int64_t> dims, double extra = 1.0) {
    const double fan_in = static_cast<double>(dims[0]);
    t.push_back({std::move(name), std::move(dims), Init::Normal, extra / std::sqrt(fan_in), TensorType::F32});
  };
  auto norm = [&t](std::string name, std::int64_t n) { t.push_back({std::move(name), {n}, Init::One, 0, TensorType::F32}); };
  auto bias = [&t](std::string name, std::int64_t n) { t.push_back({std::move(name), {n}, Init::Normal, 0.05, TensorType::F32}); };

  const std::int64_t n_q = d.n_head * d.head_dim, n_kv = d.n_head_kv * d.head_dim;
  const std::int64_t n_ff_exp = d.n_ff_exp > 0 ? d.n_ff_exp : d.n_ff;
  weight("token_embd.weight", {d.n_embd, d.n_vocab});
  norm("output_norm.weight", d.n_embd);
  if (!d.tied_output) weight("output.weight", {d.n_embd, d.n_vocab});
  for (std::int64_t i = 0; i < d.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    norm(p + "attn_norm.weight", d.n_embd);
    weight(p + "attn_q.weight", {d.n_embd, n_q});
    weight(p + "attn_k.weight", {d.n_embd, n_kv});
    weight(p + "attn_v.weight", {d.n_embd, n_kv});
    weight(p + "attn_output.weight", {n_q, d.n_embd}, residual_scale);
    if (d.arch == "qwen2") {
      bias(p + "attn_q.bias", n_q);
      bias(p + "attn_k.bias", n_kv);
      bias(p + "attn_v.bias", n_kv);
    }
    if (d.arch == "qwen3" || d.arch == "qwen3moe") {
      norm(p + "attn_q_norm.weight", d.head_dim);
      norm(p + "attn_k_norm.weight", d.head_dim);
    }
    norm(p + "ffn_norm.weight", d.n_embd);
    if (d.n_expert > 0) {
      weight(p + "ffn_gate_inp.weight", {d.n_embd, d.n_expert});
      weight(p + "ffn_gate_exps.weight", {d.n_embd, n_ff_exp, d.n_expert});
      weight(p + "ffn_down_exps.weight", {n_ff_exp, d.n_embd, d.n_expert}, residual_scale);
      weight(p + "ffn_up_exps.weight", {d.n_embd, n_ff_exp, d.n_expert});
    } else {
      weight(p + "ffn_gate.weight", {d.n_embd, d.n_ff});
      weight(p + "ffn_down.weight", {d.n_ff, d.n_embd}, residual_scale);
      weight(p + "ffn_up.weight", {d.n_embd, d.n_ff});
    }
  }
  return t;
}

// Generates, quantizes and emits one tensor, chunk by chunk, `n_threads` chunks at a time.
Status produce_tensor(const PlannedTensor& t, std::uint64_t seed, int n_threads, const gguf::ByteSink& emit) {
  const std::uint64_t row_len = static_cast<std::uint64_t>(t.dims[0]);
  std::uint64_t n_elements = 1;
  for (std::int64_t d : t.dims) n_elements *= static_cast<std::uint64_t>(d);
  if (n_elements == 0) return {};
  const std::uint64_t n_rows = n_elements / row_len;
  const std::uint64_t row_bytes = *tensor_row_bytes(t.type, row_len);
  const std::uint64_t rows_per_chunk = std::max<std::uint64_t>(1, kChunkElements / row_len);
  const std::uint64_t n_chunks = (n_rows + rows_per_chunk - 1) / rows_per_chunk;
  const std::uint64_t chunks_per_batch = std::max<std::uint64_t>(1, kBatchBytes / (rows_per_chunk * row_bytes));
  const std::uint64_t tensor_seed = seed ^ hash_name(t.name);

  std::vector<std::uint8_t> out;
  std::mutex error_mutex;
  std::string first_error;
  for (std::uint64_t batch = 0; batch < n_chunks; batch += chunks_per_batch) {
    const std::uint64_t batch_end = std::min(n_chunks, batch + chunks_per_batch);
    const std::uint64_t batch_rows = std::min(n_rows, batch_end * rows_per_chunk) - batch * rows_per_chunk;
    out.resize(static_cast<std::size_t>(batch_rows * row_bytes));
    std::atomic<std::uint64_t> next{batch};
    auto worker = [&] {
      std::vector<float> values(static_cast<std::size_t>(rows_per_chunk * row_len));
      for (std::uint64_t c = next++; c < batch_end; c = next++) {
        const std::uint64_t row0 = c * rows_per_chunk;
        const std::uint64_t rows = std::min(n_rows - row0, rows_per_chunk);
        if (t.init == Init::One) {
          std::fill(values.begin(), values.end(), 1.0f);
        } else {
          std::uint64_t s = tensor_seed + c * 0x632BE59BD9B4E019ull;
          fill_normal(values.data(), rows * row_len, t.std, splitmix(s));
        }
        for (std::uint64_t r = 0; r < rows; ++r) {
          std::uint8_t* dst = out.data() + (row0 - batch * rows_per_chunk + r) * row_bytes;
          if (Status st = quantize_row(t.type, values.data() + r * row_len, dst, static_cast<std::int64_t>(row_len)); !st) {
            std::lock_guard<std::mutex> lock(error_mutex);
            if (first_error.empty()) first_error = st.message();
            return;
          }
        }
      }
    };
    const std::uint64_t n_work = batch_end - batch;
    const int threads = static_cast<int>(std::min<std::uint64_t>(static_cast<std::uint64_t>(n_threads), n_work));
    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i) pool.emplace_back(worker);
    worker();
    for (std::thread& th : pool) th.join();
    if (!first_error.empty()) return error("quantizing to ", tensor_type_traits(t.type).name, ": ", first_error);
    if (Status s = emit(out); !s) return s;
  }
  return {};
}

std::string_view family_hint(std::string_view arch) {
  return arch.starts_with("qwen") ? "e.g. ggml-vocab-qwen2.gguf" : "e.g. ggml-vocab-llama-spm.gguf or ggml-vocab-llama-bpe.gguf";
}

}  // namespace

Status ModelDims::validate() {
  if (arch != "llama" && arch != "qwen2" && arch != "qwen3" && arch != "qwen3moe")
    return error("unknown architecture '", arch, "' (expected llama, qwen2, qwen3 or qwen3moe)");
  if (n_embd <= 0) return error("n_embd must be positive, got ", n_embd);
  if (n_layer <= 0) return error("n_layer must be positive, got ", n_layer);
  if (n_head <= 0) return error("n_head must be positive, got ", n_head);
  if (n_head_kv == 0) n_head_kv = n_head;
  if (n_head_kv < 0 || n_head % n_head_kv != 0)
    return error("n_head_kv must divide n_head (grouped-query attention), got n_head ", n_head, " and n_head_kv ", n_head_kv);
  if (head_dim == 0) {
    if (n_embd % n_head != 0) return error("n_embd ", n_embd, " is not a multiple of n_head ", n_head, ": give head_dim");
    head_dim = n_embd / n_head;
  }
  if (head_dim <= 0 || head_dim % 2 != 0) return error("head_dim must be positive and even (RoPE rotates pairs), got ", head_dim);
  if (n_vocab < 0) return error("n_vocab must not be negative, got ", n_vocab);
  if (n_ctx <= 0) return error("n_ctx must be positive, got ", n_ctx);
  if (!(rope_base > 0)) return error("rope_base must be positive, got ", rope_base);
  if (!(rms_eps > 0)) return error("rms_eps must be positive, got ", rms_eps);
  if (arch == "qwen3moe" && n_expert <= 0) return error("qwen3moe needs experts: n_expert must be positive");
  if (n_expert < 0 || n_expert > kMaxExperts) return error("n_expert must be in [0, ", kMaxExperts, "], got ", n_expert);
  if (n_expert > 0) {
    if (!is_moe_arch_supported(*this))
      return error("architecture '", arch, "' has no experts in llama.cpp: use qwen3moe, or llama for Mixtral-style experts");
    if (n_expert_used <= 0 || n_expert_used > n_expert)
      return error("n_expert_used must be in [1, n_expert = ", n_expert, "], got ", n_expert_used);
    if (n_ff_exp == 0) n_ff_exp = n_ff;
    if (n_ff_exp <= 0) return error("MoE models need n_ff_exp (or n_ff) positive");
    if (arch == "llama" && n_ff_exp != n_ff)
      return error("llama (Mixtral-style) experts are n_ff wide: n_ff_exp ", n_ff_exp, " differs from n_ff ", n_ff);
  } else {
    if (n_expert_used != 0) return error("n_expert_used is ", n_expert_used, " but the model has no experts (n_expert = 0)");
    if (n_ff <= 0) return error("n_ff must be positive, got ", n_ff);
  }
  if (n_ff < 0) return error("n_ff must not be negative, got ", n_ff);
  return {};
}

Result<WeightFormat> parse_weight_format(std::string_view name) {
  if (name == "q4_k_m") return WeightFormat{TensorType::Q4_K, true};
  static constexpr std::string_view kNames[] = {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", "q5_k", "q6_k"};
  for (std::string_view n : kNames)
    if (n == name) return WeightFormat{*tensor_type_from_name(n), false};
  return error("unknown --type '", name, "' (expected f32, f16, bf16, q8_0, q4_0, q4_k, q5_k, q6_k or q4_k_m)");
}

std::string weight_format_name(const WeightFormat& f) {
  if (f.q4_k_m) return "q4_k_m";
  std::string s(tensor_type_traits(f.type).name);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Status apply_dims(ModelDims& d, std::string_view spec) {
  while (!spec.empty()) {
    const std::size_t comma = spec.find(',');
    const std::string_view item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
    if (item.empty()) continue;
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos) return error("--dims: '", item, "' is not key=value");
    const std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
    const std::string v(value);
    char* end = nullptr;
    auto as_int = [&](std::int64_t& out) -> Status {
      errno = 0;
      const long long x = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || errno != 0) return error("--dims: ", key, " wants an integer, got '", value, "'");
      out = x;
      return {};
    };
    auto as_float = [&](double& out) -> Status {
      errno = 0;
      const double x = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || errno != 0) return error("--dims: ", key, " wants a number, got '", value, "'");
      out = x;
      return {};
    };
    Status s;
    if (key == "n_vocab") s = as_int(d.n_vocab);
    else if (key == "n_embd") s = as_int(d.n_embd);
    else if (key == "n_layer") s = as_int(d.n_layer);
    else if (key == "n_ff") s = as_int(d.n_ff);
    else if (key == "n_head") s = as_int(d.n_head);
    else if (key == "n_head_kv") s = as_int(d.n_head_kv);
    else if (key == "head_dim") s = as_int(d.head_dim);
    else if (key == "n_expert") s = as_int(d.n_expert);
    else if (key == "n_expert_used") s = as_int(d.n_expert_used);
    else if (key == "n_ff_exp") s = as_int(d.n_ff_exp);
    else if (key == "n_ctx") s = as_int(d.n_ctx);
    else if (key == "rope_base") s = as_float(d.rope_base);
    else if (key == "rms_eps") s = as_float(d.rms_eps);
    else if (key == "tied") {
      if (value != "0" && value != "1") return error("--dims: tied wants 0 or 1, got '", value, "'");
      d.tied_output = value == "1";
    } else {
      return error("--dims: unknown key '", key,
                   "' (known: n_vocab n_embd n_layer n_ff n_head n_head_kv head_dim n_expert n_expert_used n_ff_exp n_ctx "
                   "rope_base rms_eps tied)");
    }
    if (!s) return s;
  }
  return {};
}

TensorType choose_tensor_type(const WeightFormat& format, std::string_view name, const std::vector<std::int64_t>& dims,
                              std::int64_t n_layer, std::int64_t n_expert, bool tied) {
  // What llama.cpp quantizes at all: 2-D/3-D "*weight" tensors except norms and the router.
  const bool quantizable = ends_with(name, "weight") && dims.size() >= 2 && !contains(name, "_norm.weight") &&
                           !contains(name, "ffn_gate_inp.weight");
  if (!quantizable) return TensorType::F32;
  TensorType t = format.type;
  if (t == TensorType::F32 || t == TensorType::F16 || t == TensorType::BF16) return t;
  const std::int64_t nx = dims[0];
  if (format.q4_k_m) {
    // llama.cpp's llama_tensor_get_type for LLAMA_FTYPE_MOSTLY_Q4_K_M.
    if (name == "output.weight" || (tied && name == "token_embd.weight")) {
      t = nx % 256 != 0 ? TensorType::Q8_0 : TensorType::Q6_K;
    } else if (contains(name, "attn_v.weight")) {
      if (use_more_bits(layer_of(name), n_layer)) t = TensorType::Q6_K;
      if (n_expert == 8) t = TensorType::Q8_0;
    } else if (contains(name, "attn_k.weight")) {
      if (n_expert == 8) t = TensorType::Q8_0;
    } else if (contains(name, "ffn_down")) {
      if (use_more_bits(layer_of(name), n_layer)) t = TensorType::Q6_K;
    } else if (contains(name, "attn_output.weight")) {
      if (n_expert == 8) t = TensorType::Q5_K;
    }
  }
  // Rows that do not hold whole blocks: llama.cpp's fallbacks, then F16.
  const auto fits = [nx](TensorType type) { return nx % tensor_type_traits(type).block_elements == 0; };
  if (!fits(t)) {
    switch (t) {
      case TensorType::Q4_K: t = TensorType::Q5_0; break;
      case TensorType::Q5_K: t = TensorType::Q5_1; break;
      case TensorType::Q6_K: t = TensorType::Q8_0; break;
      default: t = TensorType::F16; break;
    }
    if (!fits(t)) t = TensorType::F16;
  }
  return t;
}

Result<MakeModelReport> make_model(const MakeModelOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  ModelDims d = options.dims;
  if (Status s = d.validate(); !s) return s.error();

  auto vocab = gguf::GgufFile::open(options.vocab);
  if (!vocab) return error("--vocab: ", vocab.message());
  const gguf::Value* tokens = (*vocab)->find("tokenizer.ggml.tokens");
  if (!tokens || tokens->type() != gguf::ValueType::ARRAY || tokens->array().empty())
    return error("--vocab '", options.vocab.string(), "' has no tokenizer (tokenizer.ggml.tokens is missing or empty): ",
                 "give a vocab GGUF, ", family_hint(d.arch));
  const auto n_tokens = static_cast<std::int64_t>(tokens->array().size());
  if (d.n_vocab == 0) {
    d.n_vocab = n_tokens;
  } else if (d.n_vocab != n_tokens) {
    return error("the model has a vocabulary of ", d.n_vocab, " tokens but --vocab '", options.vocab.string(), "' has ", n_tokens,
                 ": give the vocab file of this model family (", family_hint(d.arch), ")");
  }

  gguf::GgufWriter w;
  const std::string& a = d.arch;
  w.set_string("general.architecture", a);
  w.set_string("general.name", options.name.empty() ? "rapide-random-" + a : options.name);
  w.set_uint32("general.file_type", file_type_id(options.format));
  const bool quantized = options.format.q4_k_m || (options.format.type != TensorType::F32 && options.format.type != TensorType::F16 &&
                                                   options.format.type != TensorType::BF16);
  if (quantized) w.set_uint32("general.quantization_version", 2);
  auto u32 = [&](const char* key, std::int64_t v) { w.set_uint32(a + "." + key, static_cast<std::uint32_t>(v)); };
  u32("vocab_size", d.n_vocab);
  u32("context_length", d.n_ctx);
  u32("embedding_length", d.n_embd);
  u32("block_count", d.n_layer);
  u32("feed_forward_length", d.n_ff);
  u32("attention.head_count", d.n_head);
  u32("attention.head_count_kv", d.n_head_kv);
  u32("attention.key_length", d.head_dim);
  u32("attention.value_length", d.head_dim);
  u32("rope.dimension_count", d.head_dim);
  w.set_float32(a + ".rope.freq_base", static_cast<float>(d.rope_base));
  w.set_float32(a + ".attention.layer_norm_rms_epsilon", static_cast<float>(d.rms_eps));
  if (d.n_expert > 0) {
    u32("expert_count", d.n_expert);
    u32("expert_used_count", d.n_expert_used);
    if (a == "qwen3moe") u32("expert_feed_forward_length", d.n_ff_exp);
  }
  w.copy_metadata(**vocab, "tokenizer.");

  std::vector<PlannedTensor> plan = plan_tensors(d);
  const int n_threads = options.n_threads > 0 ? options.n_threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  MakeModelReport report;
  report.n_vocab = d.n_vocab;
  for (PlannedTensor& t : plan) {
    t.type = choose_tensor_type(options.format, t.name, t.dims, d.n_layer, d.n_expert, d.tied_output);
    if (!quant_supported(t.type)) return error("tensor '", t.name, "': type ", tensor_type_traits(t.type).name, " cannot be produced");
    std::uint64_t n = 1;
    for (std::int64_t x : t.dims) n *= static_cast<std::uint64_t>(x);
    report.parameters += n;
    const PlannedTensor* tp = &t;
    const std::uint64_t seed = options.seed;
    if (Status s = w.add_tensor(t.name, t.type, t.dims,
                                [tp, seed, n_threads](const gguf::ByteSink& emit) { return produce_tensor(*tp, seed, n_threads, emit); });
        !s)
      return s.error();
  }
  report.tensors = plan.size();
  auto layout = w.write(options.output);
  if (!layout) return layout.error();
  report.file_bytes = layout->file_bytes;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace rapide::inference
