// Byte layouts checked by llama.cpp itself. For each type T we write two GGUF models with the
// same seeded random weights: A stores the 2-D weights as T (encoded by quantize_row), B stores
// dequantize_row(A's bytes) as F32. llama.cpp (node-llama-cpp, bench/reference/quant_probs.mjs) runs
// both on the same text. If llama.cpp decodes our T blocks to the values we decode, A and B differ
// only by llama.cpp's activation quantization and their next-token distributions agree closely;
// a layout mismatch scrambles weights and the distributions diverge (KL of several nats). A third
// model C with the original (unquantized) weights gives the quantization noise level to compare
// against.
//
// Skips with a reason when node, node_modules or ../shared is missing.
#include "rapide/inference/gguf.h"
#include "rapide/inference/gguf_writer.h"
#include "rapide/inference/quant.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <map>
#include <utility>
#include <random>
#include <string>
#include <vector>

namespace rapide::inference {
namespace {

constexpr std::int64_t kEmbd = 256, kFf = 512, kVocab = 512, kPositions = 48;

struct Weights {
  std::map<std::string, std::vector<std::int64_t>> dims;
  std::map<std::string, std::vector<float>> values;
};

Weights make_weights() {
  Weights w;
  std::mt19937 rng(20261125);
  auto add = [&](const std::string& name, std::int64_t cols, std::int64_t rows, float sigma) {
    std::normal_distribution<float> dist(0.0f, sigma);
    std::vector<float> v(static_cast<std::size_t>(cols * rows));
    for (auto& x : v) x = dist(rng);
    w.dims[name] = rows == 1 ? std::vector<std::int64_t>{cols} : std::vector<std::int64_t>{cols, rows};
    w.values[name] = std::move(v);
  };
  const float s = 1.0f / std::sqrt(static_cast<float>(kEmbd));
  add("token_embd.weight", kEmbd, kVocab, 1.0f);
  add("blk.0.attn_q.weight", kEmbd, kEmbd, s);
  add("blk.0.attn_k.weight", kEmbd, kEmbd, s);
  add("blk.0.attn_v.weight", kEmbd, kEmbd, s);
  add("blk.0.attn_output.weight", kEmbd, kEmbd, s);
  add("blk.0.ffn_gate.weight", kEmbd, kFf, s);
  add("blk.0.ffn_up.weight", kEmbd, kFf, s);
  add("blk.0.ffn_down.weight", kFf, kEmbd, 1.0f / std::sqrt(static_cast<float>(kFf)));
  add("output.weight", kEmbd, kVocab, 4.0f * s);  // logits with a spread of a few nats
  return w;
}

// Writes a 1-layer llama with the stories260K tokenizer. Matrices are stored as `type`
// (F32 when `dequantized` is set, holding the decoded `type` values); norms are F32 ones.
Status write_model(const gguf::GgufFile& vocab, const Weights& w, TensorType type, bool dequantized,
                   const std::filesystem::path& path, std::vector<std::vector<std::uint8_t>>& storage) {
  gguf::GgufWriter out;
  out.set_string("general.architecture", "llama");
  out.set_string("general.name", "rapide quant layout check");
  out.set_uint32("llama.context_length", 256);
  out.set_uint32("llama.embedding_length", kEmbd);
  out.set_uint32("llama.block_count", 1);
  out.set_uint32("llama.feed_forward_length", kFf);
  out.set_uint32("llama.rope.dimension_count", 64);
  out.set_uint32("llama.attention.head_count", 4);
  out.set_uint32("llama.attention.head_count_kv", 4);
  out.set_float32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  out.copy_metadata(vocab, "tokenizer.");
  const std::vector<float> ones(static_cast<std::size_t>(kEmbd), 1.0f);
  auto add_raw = [&](const std::string& name, TensorType t, std::vector<std::int64_t> dims, std::vector<std::uint8_t> bytes) {
    storage.push_back(std::move(bytes));
    return out.add_tensor(name, t, std::move(dims), storage.back());
  };
  auto f32_bytes = [](const float* p, std::size_t n) {
    const auto* b = reinterpret_cast<const std::uint8_t*>(p);
    return std::vector<std::uint8_t>(b, b + n * sizeof(float));
  };
  for (const char* norm : {"output_norm.weight", "blk.0.attn_norm.weight", "blk.0.ffn_norm.weight"}) {
    if (Status s = add_raw(norm, TensorType::F32, {kEmbd}, f32_bytes(ones.data(), kEmbd)); !s) return s;
  }
  for (const auto& [name, values] : w.values) {
    const auto& dims = w.dims.at(name);
    const std::int64_t row = dims[0], rows = dims[1];
    const std::size_t row_bytes = *tensor_row_bytes(type, static_cast<std::uint64_t>(row));
    std::vector<std::uint8_t> q(row_bytes * static_cast<std::size_t>(rows));
    for (std::int64_t r = 0; r < rows; ++r)
      if (Status s = quantize_row(type, values.data() + r * row, q.data() + static_cast<std::size_t>(r) * row_bytes, row); !s)
        return s;
    if (!dequantized) {
      if (Status s = add_raw(name, type, dims, std::move(q)); !s) return s;
      continue;
    }
    std::vector<float> d(values.size());
    for (std::int64_t r = 0; r < rows; ++r)
      if (Status s = dequantize_row(type, q.data() + static_cast<std::size_t>(r) * row_bytes, d.data() + r * row, row); !s)
        return s;
    if (Status s = add_raw(name, TensorType::F32, dims, f32_bytes(d.data(), d.size())); !s) return s;
  }
  auto written = out.write(path);
  if (!written) return written.error();
  return Status::success();
}

// Runs llama.cpp once over every model, writing each one's next-token distributions
// ([kPositions][kVocab] float32) to its paired file. Empty string on success, else the reason.
std::string run_llama(const std::vector<std::pair<std::filesystem::path, std::filesystem::path>>& models,
                      const std::filesystem::path& text) {
  const std::filesystem::path script = std::filesystem::path(RAPIDE_SOURCE_DIR) / "bench/reference/quant_probs.mjs";
  std::vector<std::string> argv = {"/usr/bin/node", script.string(), "--text-file", text.string(),
                                   "--positions", std::to_string(kPositions)};
  for (const auto& [model, out] : models) argv.push_back(model.string() + "=" + out.string());
  auto p = rapide::testing::run_process(argv, {}, 300);
  if (p.exit_code != 0 || p.out.find("\"ok\":true") == std::string::npos) return "llama.cpp failed: " + p.out + p.err;
  return {};
}

std::vector<float> read_probs(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::vector<float> probs(static_cast<std::size_t>(kPositions * kVocab));
  in.read(reinterpret_cast<char*>(probs.data()), static_cast<std::streamsize>(probs.size() * sizeof(float)));
  if (in.gcount() != static_cast<std::streamsize>(probs.size() * sizeof(float))) return {};
  return probs;
}

double mean_kl(const std::vector<float>& p, const std::vector<float>& q) {
  double total = 0;
  for (std::int64_t t = 0; t < kPositions; ++t) {
    double kl = 0;
    for (std::int64_t v = 0; v < kVocab; ++v) {
      const double a = p[static_cast<std::size_t>(t * kVocab + v)], b = q[static_cast<std::size_t>(t * kVocab + v)];
      if (a > 0) kl += a * std::log(a / std::max(b, 1e-30));
    }
    total += kl;
  }
  return total / kPositions;
}

TEST(QuantLlamaCpp, LlamaCppDecodesOurBlocksAsWeDo) {
  RAPIDE_REQUIRE_SHARED(vocab_path, "models/stories260K.gguf");
  RAPIDE_REQUIRE_SHARED(text, "text/story.txt");
  if (!std::filesystem::exists("/usr/bin/node")) GTEST_SKIP() << "node is not installed: no llama.cpp reference";
  if (!std::filesystem::exists(std::filesystem::path(RAPIDE_SOURCE_DIR) / "bench/reference/node_modules/node-llama-cpp"))
    GTEST_SKIP() << "bench/reference/node_modules is absent (run scripts/setup.sh): no llama.cpp reference";
  auto vocab = gguf::GgufFile::open(vocab_path);
  ASSERT_TRUE(vocab.ok()) << vocab.message();
  const Weights w = make_weights();
  rapide::testing::TempDir dir;

  const TensorType types[] = {TensorType::F16,  TensorType::BF16, TensorType::Q8_0, TensorType::Q4_0, TensorType::Q4_1,
                              TensorType::Q5_0, TensorType::Q5_1, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K};
  std::vector<std::pair<std::filesystem::path, std::filesystem::path>> runs;
  auto model_file = [&](const std::string& stem) { return std::make_pair(dir.path() / (stem + ".gguf"), dir.path() / (stem + ".bin")); };
  std::vector<std::vector<std::uint8_t>> storage;
  runs.push_back(model_file("orig"));
  ASSERT_TRUE(write_model(**vocab, w, TensorType::F32, false, runs.back().first, storage).ok());
  for (TensorType t : types) {
    const std::string name(tensor_type_traits(t).name);
    for (bool deq : {false, true}) {
      storage.clear();
      runs.push_back(model_file(name + (deq ? "-deq" : "")));
      const Status s = write_model(**vocab, w, t, deq, runs.back().first, storage);
      ASSERT_TRUE(s.ok()) << name << ": " << s.message();
    }
  }
  const std::string why = run_llama(runs, text);
  ASSERT_TRUE(why.empty()) << why;
  const auto orig = read_probs(runs[0].second);
  ASSERT_FALSE(orig.empty());
  for (std::size_t i = 0; i < std::size(types); ++i) {
    const TensorType t = types[i];
    const std::string name(tensor_type_traits(t).name);
    const auto pa = read_probs(runs[1 + 2 * i].second), pb = read_probs(runs[2 + 2 * i].second);
    ASSERT_FALSE(pa.empty() || pb.empty()) << name;
    const double kl_same = mean_kl(pa, pb), kl_noise = mean_kl(pa, orig);
    std::printf("[ measure  ] %-5s llama.cpp KL(T file || our decode as F32) %.2e   KL(T file || unquantized) %.2e\n",
                name.c_str(), kl_same, kl_noise);
    // What remains is llama.cpp's own activation rounding (Q8 for the quantized types): ~5e-4
    // measured. A layout mismatch scrambles weights: KL of nats.
    EXPECT_LT(kl_same, 2e-3) << name << ": llama.cpp reads these blocks differently from dequantize_row";
    const int bits = static_cast<int>(tensor_type_traits(t).block_bytes * 8 / tensor_type_traits(t).block_elements);
    if (bits <= 6) {
      EXPECT_LT(kl_same, 0.25 * kl_noise) << name << ": agreement no better than the quantization noise";
    }
  }
}

}  // namespace
}  // namespace rapide::inference
