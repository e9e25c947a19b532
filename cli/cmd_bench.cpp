// `rapide bench`: prefill and decode speed of a model on this machine, in the manner of
// llama.cpp's llama-bench, next to the machine's measured memory read bandwidth.
//
//   prefill: a p-token prompt evaluated in one batch into a fresh KV cache (tok/s = p / time);
//   decode:  after a short prompt (kDecodePromptTokens), n tokens generated one at a time, each
//            the greedy argmax of the previous step's logits (tok/s = n / time; the prompt is not
//            timed);
//   bytes per token: weight bytes the backend read per decoded token (BackendStats; for a MoE
//            model only the experts the router picked, i.e. the active bytes);
//   bandwidth: a multi-threaded streaming read (AVX2 loads where the CPU has them) of a buffer
//            much larger than the last-level cache, with the same thread count as the model.
// Each figure is the median of --reps repetitions after one warm-up repetition. Token ids are
// drawn from a fixed-seed generator (like llama-bench), so no tokenizer is needed.
// The achieved fraction = decode_tps * bytes_per_token / bandwidth: how close decode comes to the
// memory roofline.
// --device cuda[:N]: the same runs on the GPU (each step ends with the logits copy, so the time
// includes the device work); the bandwidth is then the device's, both the theoretical peak
// (memory clock x bus width) and a measured device-to-device copy, and the roofline counts
// weights + the F16 KV the attention reads per token (kv_bytes_per_token).
#include "commands.h"
#include "device_option.h"

#include "rapide/inference/gguf.h"
#include "rapide/inference/gguf_info.h"
#include "rapide/inference/model.h"

#ifdef RAPIDE_HAVE_CUDA
#include "rapide/inference/cuda/device.h"
#endif

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace rapide::cli {

namespace {

namespace inf = rapide::inference;
using Clock = std::chrono::steady_clock;

// Prompt tokens evaluated before the timed decode steps (llama-bench's tg starts from an empty
// context; a few tokens make the first step's attention non-trivial and match bench/compare).
constexpr int kDecodePromptTokens = 8;

struct BenchArgs {
  std::string model;
  std::string n_prompt = "512";
  std::string n_gen = "128";
  std::string threads = "0";
  std::string reps = "3";
  std::string bandwidth_mib = "1024";
  std::string device = "cpu";  // benchmarks name their device; "auto" is accepted too
  bool json = false;
};

// Parses a whole non-negative decimal integer; nullopt on anything else.
std::optional<long long> parse_count(const std::string& s) {
  long long v = 0;
  const char* end = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(s.data(), end, v);
  if (s.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

bool parse_arg(const char* flag, const std::string& text, long long lo, long long hi, int& out) {
  const auto v = parse_count(text);
  if (!v || *v < lo || *v > hi) {
    std::fprintf(stderr, "rapide bench: %s must be an integer in [%lld, %lld], got '%s'\n", flag, lo, hi, text.c_str());
    return false;
  }
  out = static_cast<int>(*v);
  return true;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon == std::string::npos) break;
      std::size_t b = colon + 1;
      while (b < line.size() && line[b] == ' ') ++b;
      return line.substr(b);
    }
  }
  return "unknown";
}

// --- memory read bandwidth ---------------------------------------------------------------------

#if defined(__x86_64__)
__attribute__((target("avx2"))) std::uint64_t read_avx2(const std::uint8_t* p, std::size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (std::size_t i = 0; i + 128 <= n; i += 128) {
    a0 = _mm256_xor_si256(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_xor_si256(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_xor_si256(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_xor_si256(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  const __m256i a = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
  alignas(32) std::uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), a);
  return lanes[0] ^ lanes[1] ^ lanes[2] ^ lanes[3];
}
#endif

std::uint64_t read_scalar(const std::uint8_t* p, std::size_t n) {
  std::uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (std::size_t i = 0; i + 32 <= n; i += 32) {
    std::uint64_t w[4];
    std::memcpy(w, p + i, sizeof w);
    a0 ^= w[0];
    a1 ^= w[1];
    a2 ^= w[2];
    a3 ^= w[3];
  }
  return a0 ^ a1 ^ a2 ^ a3;
}

bool have_avx2() {
#if defined(__x86_64__)
  return __builtin_cpu_supports("avx2");
#else
  return false;
#endif
}

struct Bandwidth {
  double gbps = 0.0;  // median, 1e9 bytes per second
  bool avx2 = false;
};

// Streams `bytes` (rounded to a multiple of 128 per thread) once per repetition with n_threads
// threads, each reading its own contiguous slice; the time runs from releasing the threads to the
// last one finishing. One warm-up pass (which also faults the pages in), then `reps` timed ones.
std::optional<Bandwidth> measure_bandwidth(std::size_t bytes, int n_threads, int reps) {
  const std::size_t slice = bytes / static_cast<std::size_t>(n_threads) / 128 * 128;
  if (slice == 0) return std::nullopt;
  const std::size_t total = slice * static_cast<std::size_t>(n_threads);
  std::unique_ptr<std::uint8_t, decltype(&std::free)> buf(static_cast<std::uint8_t*>(std::aligned_alloc(4096, total)),
                                                          &std::free);
  if (!buf) return std::nullopt;
  // Non-constant contents so nothing can be shortcut (and every page is really backed).
  for (std::size_t i = 0; i < total; i += 8) {
    const std::uint64_t v = i * 0x9E3779B97F4A7C15ull;
    std::memcpy(buf.get() + i, &v, 8);
  }
  Bandwidth out;
  out.avx2 = have_avx2();
  std::vector<double> gbps;
  std::atomic<std::uint64_t> sink{0};
  for (int rep = 0; rep <= reps; ++rep) {
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    auto body = [&](int t) {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      const std::uint8_t* p = buf.get() + static_cast<std::size_t>(t) * slice;
#if defined(__x86_64__)
      const std::uint64_t r = out.avx2 ? read_avx2(p, slice) : read_scalar(p, slice);
#else
      const std::uint64_t r = read_scalar(p, slice);
#endif
      sink.fetch_xor(r, std::memory_order_relaxed);
    };
    for (int t = 1; t < n_threads; ++t) threads.emplace_back(body, t);
    while (ready.load() != n_threads - 1) std::this_thread::yield();
    const auto t0 = Clock::now();
    go.store(true, std::memory_order_release);
    body(0);
    for (auto& th : threads) th.join();
    const double s = seconds_since(t0);
    if (rep > 0) gbps.push_back(static_cast<double>(total) / s / 1e9);
  }
  if (sink.load() == 0x1234567) std::fputs("", stderr);  // keeps the reads observable
  out.gbps = median(gbps);
  return out;
}

// --- model runs --------------------------------------------------------------------------------

struct Runner {
  inf::Model& model;
  std::int32_t n_vocab;
  std::mt19937 rng{1234};
  std::vector<float> logits;

  std::vector<std::int32_t> random_tokens(int n) {
    std::uniform_int_distribution<std::int32_t> d(0, n_vocab - 1);
    std::vector<std::int32_t> t(static_cast<std::size_t>(n));
    for (auto& x : t) x = d(rng);
    return t;
  }

  // Evaluates `tokens` into kv with the logits of the last one; returns false (message printed).
  bool forward(inf::KvCache& kv, std::span<const std::int32_t> tokens) {
    const std::int32_t last = static_cast<std::int32_t>(tokens.size()) - 1;
    inf::Model::SequenceBatch b{&kv, tokens, {&last, 1}, logits.data()};
    const Status st = model.forward({&b, 1});
    if (!st) {
      std::fprintf(stderr, "rapide bench: forward failed: %s\n", st.message().c_str());
      return false;
    }
    return true;
  }

  std::int32_t argmax() const {
    return static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
};

struct DecodeRep {
  double tps = 0.0;
  double bytes_per_token = 0.0;
  double expert_bytes_per_token = 0.0;
  double kv_bytes_per_token = 0.0;
};

// Bytes of F16 K and V the attention of one token at position `pos` reads over all layers.
double kv_read_bytes(const inf::ModelConfig& c, std::int64_t pos) {
  std::int64_t keys = pos + 1;
  if (c.sliding_window > 0) keys = std::min<std::int64_t>(keys, c.sliding_window);
  return 2.0 * static_cast<double>(c.n_layer) * static_cast<double>(keys) *
         (static_cast<double>(c.n_head_kv) * c.head_dim + static_cast<double>(c.n_head_kv) * c.head_dim_v);
}

// The device side of the roofline: theoretical peak from the memory clock and bus width, and a
// measured device-to-device copy. Empty (peak 0) for the CPU or a build without CUDA.
struct DeviceBandwidth {
  std::string name;
  double peak_gbps = 0.0;
  double copy_gbps = 0.0;
  std::string error;
};

DeviceBandwidth device_bandwidth(const std::string& backend_name, std::size_t copy_bytes) {
  DeviceBandwidth d;
#ifdef RAPIDE_HAVE_CUDA
  const int index = std::atoi(backend_name.c_str() + 5);  // "cuda:N"
  const auto q = inf::cuda::query_devices();
  for (const auto& info : q.devices)
    if (info.index == index) {
      d.name = info.name;
      d.peak_gbps = info.peak_bandwidth_gbps();
    }
  const auto copy = inf::cuda::measure_copy_bandwidth(index, copy_bytes);
  d.copy_gbps = copy.gbps;
  d.error = copy.error;
#else
  (void)backend_name;
  (void)copy_bytes;
  d.error = "built without the CUDA backend";
#endif
  return d;
}

int run_bench(const BenchArgs& a) {
  if (a.model.empty()) {
    std::fprintf(stderr, "rapide bench: --model F is required (a GGUF file)\n");
    return 1;
  }
  int n_prompt = 0, n_gen = 0, threads = 0, reps = 0, bw_mib = 0;
  if (!parse_arg("-p/--n-prompt", a.n_prompt, 0, 1 << 20, n_prompt) ||
      !parse_arg("-n/--n-gen", a.n_gen, 0, 1 << 20, n_gen) || !parse_arg("--threads", a.threads, 0, 1024, threads) ||
      !parse_arg("--reps", a.reps, 1, 1000, reps) || !parse_arg("--bandwidth-mib", a.bandwidth_mib, 1, 1 << 20, bw_mib))
    return 1;
  if (n_prompt == 0 && n_gen == 0) {
    std::fprintf(stderr, "rapide bench: -p and -n are both 0: nothing to measure\n");
    return 1;
  }

  auto file = inf::gguf::GgufFile::open(a.model);
  if (!file) {
    std::fprintf(stderr, "rapide bench: %s\n", file.message().c_str());
    return 1;
  }
  const inf::gguf::GgufSummary summary = inf::gguf::summarize(**file);
  std::string type = "unknown";
  if (!summary.by_type.empty()) type = std::string(inf::tensor_type_traits(summary.by_type.front().type).name);
  std::string file_type;
  if (summary.file_type) file_type = std::string(inf::gguf::file_type_name(*summary.file_type));

  const auto dev = resolve_device(a.device);
  if (!dev) {
    std::fprintf(stderr, "rapide bench: %s\n", dev.message().c_str());
    return 1;
  }
  inf::LoadOptions lo;
  lo.n_threads = threads;
  lo.device = *dev;
  auto loaded = inf::Model::load(*file, lo);
  if (!loaded) {
    std::fprintf(stderr, "rapide bench: %s: %s\n", a.model.c_str(), loaded.message().c_str());
    return 1;
  }
  inf::Model& model = **loaded;
  std::fprintf(stderr, "rapide bench: %s\n", model.device_note().c_str());
  const std::string backend_name(model.backend().name());
  const bool on_cuda = backend_name.rfind("cuda:", 0) == 0;
  const inf::ModelConfig& cfg = model.config();
  const int n_threads = model.backend().n_threads();
  const int capacity = std::max(n_prompt, kDecodePromptTokens + n_gen) + 1;
  if (cfg.n_ctx_train > 0 && capacity > cfg.n_ctx_train)
    std::fprintf(stderr, "rapide bench: note: %d positions exceed the model's training context %d\n", capacity,
                 cfg.n_ctx_train);

  Runner run{model, cfg.n_vocab, std::mt19937{1234}, std::vector<float>(static_cast<std::size_t>(cfg.n_vocab))};
  std::vector<double> prefill_tps;
  std::vector<DecodeRep> decode;
  inf::BackendStats& stats = model.backend().stats();
  for (int rep = 0; rep <= reps; ++rep) {  // rep 0 warms up (page faults, caches, scratch sizes)
    if (n_prompt > 0) {
      auto kv = model.new_kv_cache(capacity);
      if (!kv) {
        std::fprintf(stderr, "rapide bench: %s\n", kv.message().c_str());
        return 1;
      }
      const std::vector<std::int32_t> tokens = run.random_tokens(n_prompt);
      const auto t0 = Clock::now();
      if (!run.forward(**kv, tokens)) return 1;
      const double s = seconds_since(t0);
      if (rep > 0) prefill_tps.push_back(n_prompt / s);
    }
    if (n_gen > 0) {
      auto kv = model.new_kv_cache(capacity);
      if (!kv) {
        std::fprintf(stderr, "rapide bench: %s\n", kv.message().c_str());
        return 1;
      }
      const std::vector<std::int32_t> prompt = run.random_tokens(kDecodePromptTokens);
      if (!run.forward(**kv, prompt)) return 1;
      std::int32_t next = run.argmax();
      const inf::BackendStats before = stats;
      double kv_bytes = 0.0;
      for (int i = 0; i < n_gen; ++i) kv_bytes += kv_read_bytes(cfg, kDecodePromptTokens + i);
      const auto t0 = Clock::now();
      for (int i = 0; i < n_gen; ++i) {
        if (!run.forward(**kv, {&next, 1})) return 1;
        next = run.argmax();
      }
      const double s = seconds_since(t0);
      if (rep > 0)
        decode.push_back({n_gen / s, static_cast<double>(stats.weight_bytes_read - before.weight_bytes_read) / n_gen,
                          static_cast<double>(stats.expert_weight_bytes_read - before.expert_weight_bytes_read) / n_gen,
                          kv_bytes / n_gen});
    }
  }

  // CPU: the host read bandwidth; CUDA: the device's (the host figure would say nothing).
  DeviceBandwidth dbw;
  std::optional<Bandwidth> bw;
  if (on_cuda) {
    dbw = device_bandwidth(backend_name, static_cast<std::size_t>(bw_mib) << 20);
    if (!dbw.error.empty()) std::fprintf(stderr, "rapide bench: %s\n", dbw.error.c_str());
    bw = Bandwidth{dbw.copy_gbps, false};
  } else {
    bw = measure_bandwidth(static_cast<std::size_t>(bw_mib) << 20, n_threads, std::max(reps, 3));
  }
  if (!bw) {
    std::fprintf(stderr, "rapide bench: cannot allocate the %d MiB bandwidth buffer\n", bw_mib);
    return 1;
  }

  std::vector<double> dtps, dbytes, dexp, dkv;
  for (const auto& d : decode) {
    dtps.push_back(d.tps);
    dbytes.push_back(d.bytes_per_token);
    dexp.push_back(d.expert_bytes_per_token);
    dkv.push_back(d.kv_bytes_per_token);
  }
  const double p_tps = median(prefill_tps);
  const double d_tps = median(dtps);
  const double bytes_per_token = median(dbytes);
  const double fraction = bw->gbps > 0 ? d_tps * bytes_per_token / (bw->gbps * 1e9) : 0.0;
  // The roofline of the issue: weights (active experts only, as counted) + KV read per token.
  const double kv_per_token = median(dkv);
  const double roof_bytes = bytes_per_token + kv_per_token;
  const auto frac_of = [&](double gbps) { return gbps > 0 ? d_tps * roof_bytes / (gbps * 1e9) : 0.0; };
  const std::string cpu = cpu_model_name();

  if (a.json) {
    nlohmann::json j;
    j["model"] = a.model;
    j["arch"] = cfg.arch;
    j["type"] = type;
    j["file_type"] = file_type;
    j["cpu"] = cpu;
    j["threads"] = n_threads;
    j["n_prompt"] = n_prompt;
    j["n_gen"] = n_gen;
    j["reps"] = reps;
    j["prefill_tps"] = n_prompt > 0 ? nlohmann::json(p_tps) : nlohmann::json(nullptr);
    j["decode_tps"] = n_gen > 0 ? nlohmann::json(d_tps) : nlohmann::json(nullptr);
    j["prefill_tps_reps"] = prefill_tps;
    j["decode_tps_reps"] = dtps;
    j["bytes_per_token"] = n_gen > 0 ? nlohmann::json(bytes_per_token) : nlohmann::json(nullptr);
    j["expert_bytes_per_token"] = n_gen > 0 ? nlohmann::json(median(dexp)) : nlohmann::json(nullptr);
    j["weight_bytes"] = (*file)->tensor_data_bytes();
    j["bandwidth_gbps"] = bw->gbps;
    j["bandwidth_isa"] = bw->avx2 ? "avx2" : "scalar";
    j["bandwidth_fraction"] = n_gen > 0 ? nlohmann::json(fraction) : nlohmann::json(nullptr);
    j["roofline_decode_tps"] = n_gen > 0 && bytes_per_token > 0 ? nlohmann::json(bw->gbps * 1e9 / bytes_per_token)
                                                                : nlohmann::json(nullptr);
    j["device"] = backend_name;
    j["kv_bytes_per_token"] = n_gen > 0 ? nlohmann::json(kv_per_token) : nlohmann::json(nullptr);
    j["roofline_bytes_per_token"] = n_gen > 0 ? nlohmann::json(roof_bytes) : nlohmann::json(nullptr);
    j["roofline_fraction"] = n_gen > 0 ? nlohmann::json(frac_of(bw->gbps)) : nlohmann::json(nullptr);
    if (on_cuda) {
      j["bandwidth_isa"] = "cuda-d2d-copy";
      j["device_name"] = dbw.name;
      j["peak_bandwidth_gbps"] = dbw.peak_gbps;
      j["copy_bandwidth_gbps"] = dbw.copy_gbps;
      j["roofline_fraction_peak"] = n_gen > 0 ? nlohmann::json(frac_of(dbw.peak_gbps)) : nlohmann::json(nullptr);
      j["roofline_fraction_copy"] = n_gen > 0 ? nlohmann::json(frac_of(dbw.copy_gbps)) : nlohmann::json(nullptr);
    }
    std::puts(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }

  std::printf("model    %s (%s, %s%s%s, %.2f GB of weights)\n", a.model.c_str(), cfg.arch.c_str(), type.c_str(),
              file_type.empty() ? "" : ", file type ", file_type.c_str(),
              static_cast<double>((*file)->tensor_data_bytes()) / 1e9);
  if (on_cuda)
    std::printf("device   %s (%s), median of %d reps (+1 warm-up)\n\n", backend_name.c_str(), dbw.name.c_str(), reps);
  else
    std::printf("cpu      %s, %d threads, median of %d reps (+1 warm-up)\n\n", cpu.c_str(), n_threads, reps);
  std::printf("| %-8s | %10s | %10s | %10s |\n", "test", "tok/s", "min", "max");
  std::printf("|----------|------------|------------|------------|\n");
  if (n_prompt > 0)
    std::printf("| pp%-6d | %10.2f | %10.2f | %10.2f |\n", n_prompt, p_tps,
                *std::min_element(prefill_tps.begin(), prefill_tps.end()),
                *std::max_element(prefill_tps.begin(), prefill_tps.end()));
  if (n_gen > 0)
    std::printf("| tg%-6d | %10.2f | %10.2f | %10.2f |\n", n_gen, d_tps, *std::min_element(dtps.begin(), dtps.end()),
                *std::max_element(dtps.begin(), dtps.end()));
  if (on_cuda)
    std::printf("\ndevice bandwidth  peak %.1f GB/s (memory clock x bus width), measured copy %.1f GB/s (%d MiB)\n",
                dbw.peak_gbps, dbw.copy_gbps, bw_mib);
  else
    std::printf("\nread bandwidth  %.2f GB/s (%d threads, %s loads, %d MiB buffer)\n", bw->gbps, n_threads,
                bw->avx2 ? "AVX2" : "scalar", bw_mib);
  if (n_gen > 0) {
    std::printf("bytes per token %.3f GB%s\n", bytes_per_token / 1e9, cfg.is_moe() ? " (active experts only)" : "");
    std::printf("decode roofline %.2f tok/s; achieved %.1f%% of the bandwidth\n",
                bytes_per_token > 0 ? bw->gbps * 1e9 / bytes_per_token : 0.0, 100.0 * fraction);
    std::printf("weights + KV    %.3f GB per token: %.1f%% of the %s roofline", roof_bytes / 1e9, 100.0 * frac_of(bw->gbps),
                on_cuda ? "measured-copy" : "read-bandwidth");
    if (on_cuda) std::printf(", %.1f%% of the peak roofline", 100.0 * frac_of(dbw.peak_gbps));
    std::printf("\n");
  }
  return 0;
}

}  // namespace

void register_bench(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Measure prefill and decode tok/s (like llama-bench) and the fraction of memory bandwidth achieved");
  cmd->add_option("--model,-m", a->model, "GGUF model file (required)");
  add_device_option(*cmd, &a->device);
  cmd->add_option("-p,--n-prompt", a->n_prompt, "Prompt tokens for the prefill test (0: skip)")->capture_default_str();
  cmd->add_option("-n,--n-gen", a->n_gen, "Tokens generated in the decode test (0: skip)")->capture_default_str();
  cmd->add_option("--threads,-t", a->threads, "Threads (0: physical cores)")->capture_default_str();
  cmd->add_option("--reps,-r", a->reps, "Timed repetitions (the median is reported; one warm-up run comes first)")
      ->capture_default_str();
  cmd->add_option("--bandwidth-mib", a->bandwidth_mib,
                  "Size of the buffer streamed to measure the read bandwidth (well above the last-level cache)")
      ->capture_default_str();
  cmd->add_flag("--json", a->json,
                "Print one JSON object: prefill_tps, decode_tps, bytes_per_token, bandwidth_gbps, bandwidth_fraction, "
                "threads, n_prompt, n_gen, model, type, cpu, reps, ...");
  cmd->callback([a, exit_code] { *exit_code = run_bench(*a); });
}

}  // namespace rapide::cli
