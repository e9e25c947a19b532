// Whole forward passes on the CUDA backend against the CPU backend: generated models (the tiny
// preset of every architecture, at f32, q8_0 and q4_k_m) and the real stories260K, loaded on
// both devices; a 40-token prefill then greedy decode steps, logits compared with a normalised
// error bound and top-1 agreement. Also the device selection of Model::load ("auto", "cuda").
// Tests that need a GPU skip, saying why, without one.
#include "rapide/inference/backend.h"
#include "rapide/inference/cuda/cuda_backend.h"
#include "rapide/inference/cuda/device.h"
#include "rapide/inference/gguf.h"
#include "rapide/inference/gguf_writer.h"
#include "rapide/inference/make_model.h"
#include "rapide/inference/model.h"

#include "test_support.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace rapide::inference::cuda {
namespace {

// A vocabulary-only GGUF (512 tokens) for make_model: the forward needs no tokenizer.
std::filesystem::path write_vocab(const std::filesystem::path& dir) {
  gguf::GgufWriter w;
  std::vector<std::string> tokens;
  for (int i = 0; i < 512; ++i) tokens.push_back("t" + std::to_string(i));
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  const auto path = dir / "vocab.gguf";
  auto r = w.write(path);
  EXPECT_TRUE(r) << r.message();
  return path;
}

double rel_err(std::span<const float> got, std::span<const float> want) {
  double e = 0, n = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double d = static_cast<double>(got[i]) - want[i];
    e += d * d;
    n += static_cast<double>(want[i]) * want[i];
  }
  return std::sqrt(e / (n + 1e-30));
}

std::int32_t argmax(std::span<const float> v) {
  return static_cast<std::int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

struct Compare {
  double worst_err = 0;
  int rows = 0, top1_agree = 0;
};

// Prefill n_prompt random tokens (logits of every 8th row and the last), then n_decode greedy
// steps driven by the CPU's choice, on both models; returns the comparison.
Compare run_both(Model& cpu, Model& gpu, int n_prompt, int n_decode, std::uint32_t seed) {
  Compare c;
  const std::int32_t n_vocab = cpu.config().n_vocab;
  auto ckv = cpu.new_kv_cache(n_prompt + n_decode + 1);
  auto gkv = gpu.new_kv_cache(n_prompt + n_decode + 1);
  EXPECT_TRUE(ckv && gkv) << (gkv ? "" : gkv.message());
  if (!ckv || !gkv) return c;
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::int32_t> tok(0, n_vocab - 1);
  std::vector<std::int32_t> prompt(static_cast<std::size_t>(n_prompt));
  for (auto& t : prompt) t = tok(rng);
  std::vector<std::int32_t> rows;
  for (std::int32_t r = 0; r < n_prompt; r += 8) rows.push_back(r);
  if (rows.back() != n_prompt - 1) rows.push_back(n_prompt - 1);
  std::vector<float> lc(rows.size() * static_cast<std::size_t>(n_vocab)), lg(lc.size());
  auto compare = [&](std::size_t n_rows) {
    for (std::size_t r = 0; r < n_rows; ++r) {
      const std::span<const float> a(lc.data() + r * n_vocab, static_cast<std::size_t>(n_vocab));
      const std::span<const float> b(lg.data() + r * n_vocab, static_cast<std::size_t>(n_vocab));
      c.worst_err = std::max(c.worst_err, rel_err(b, a));
      c.top1_agree += argmax(a) == argmax(b);
      ++c.rows;
    }
  };
  Model::SequenceBatch bc{ckv->get(), prompt, rows, lc.data()};
  Model::SequenceBatch bg{gkv->get(), prompt, rows, lg.data()};
  Status st = cpu.forward({&bc, 1});
  EXPECT_TRUE(st) << st.message();
  st = gpu.forward({&bg, 1});
  EXPECT_TRUE(st) << st.message();
  if (!st) return c;
  compare(rows.size());
  std::int32_t next = argmax({lc.data() + (rows.size() - 1) * n_vocab, static_cast<std::size_t>(n_vocab)});
  const std::int32_t zero = 0;
  for (int i = 0; i < n_decode; ++i) {
    Model::SequenceBatch dc{ckv->get(), {&next, 1}, {&zero, 1}, lc.data()};
    Model::SequenceBatch dg{gkv->get(), {&next, 1}, {&zero, 1}, lg.data()};
    st = cpu.forward({&dc, 1});
    EXPECT_TRUE(st) << st.message();
    st = gpu.forward({&dg, 1});
    EXPECT_TRUE(st) << st.message();
    if (!st) return c;
    compare(1);
    next = argmax({lc.data(), static_cast<std::size_t>(n_vocab)});
  }
  EXPECT_EQ((*gkv)->size(), (*ckv)->size());
  return c;
}

struct ModelCase {
  const char* arch;
  const char* format;
};

void PrintTo(const ModelCase& c, std::ostream* os) { *os << c.arch << " " << c.format; }

class CudaForward : public ::testing::TestWithParam<ModelCase> {};

TEST_P(CudaForward, GeneratedModelMatchesCpu) {
  const auto q = query_devices();
  if (q.devices.empty()) GTEST_SKIP() << "no CUDA device present: " << q.why_none;
  register_cuda_backend();
  const ModelCase mc = GetParam();
  rapide::testing::TempDir dir;
  MakeModelOptions o;
  auto dims = preset_dims("tiny", mc.arch);
  ASSERT_TRUE(dims) << dims.message();
  o.dims = *dims;
  auto fmt = parse_weight_format(mc.format);
  ASSERT_TRUE(fmt) << fmt.message();
  o.format = *fmt;
  o.vocab = write_vocab(dir.path());
  o.output = dir.path() / "m.gguf";
  o.seed = 7;
  auto made = make_model(o);
  ASSERT_TRUE(made) << made.message();
  auto file = gguf::GgufFile::open(o.output);
  ASSERT_TRUE(file) << file.message();
  LoadOptions lc, lg;
  lc.device = "cpu";
  lg.device = "cuda:0";
  auto cpu = Model::load(*file, lc);
  ASSERT_TRUE(cpu) << cpu.message();
  auto gpu = Model::load(*file, lg);
  ASSERT_TRUE(gpu) << gpu.message();
  EXPECT_EQ((*gpu)->backend().name(), "cuda:0");
  const Compare c = run_both(**cpu, **gpu, 40, 8, 99);
  // f32: only summation order differs. Quantized: both backends quantize activations to int8
  // per block, but a value on a rounding boundary may land on the other side.
  const double bound = std::string(mc.format) == "f32" ? 1e-3 : 3e-2;
  EXPECT_LT(c.worst_err, bound);
  EXPECT_GE(c.top1_agree, c.rows - (std::string(mc.format) == "f32" ? 0 : 1)) << c.top1_agree << "/" << c.rows;
  // Weight bytes are counted like the CPU backend.
  EXPECT_EQ((*gpu)->backend().stats().weight_bytes_read, (*cpu)->backend().stats().weight_bytes_read);
  EXPECT_EQ((*gpu)->backend().stats().expert_weight_bytes_read, (*cpu)->backend().stats().expert_weight_bytes_read);
}

INSTANTIATE_TEST_SUITE_P(Archs, CudaForward,
                         ::testing::Values(ModelCase{"llama", "f32"}, ModelCase{"llama", "q8_0"},
                                           ModelCase{"llama", "q4_k_m"}, ModelCase{"qwen2", "f32"},
                                           ModelCase{"qwen2", "q8_0"}, ModelCase{"qwen2", "q4_k_m"},
                                           ModelCase{"qwen3", "f32"}, ModelCase{"qwen3", "q8_0"},
                                           ModelCase{"qwen3", "q4_k_m"}, ModelCase{"qwen3moe", "f32"},
                                           ModelCase{"qwen3moe", "q8_0"}, ModelCase{"qwen3moe", "q4_k_m"}));

TEST(CudaForwardReal, Stories260KMatchesCpu) {
  RAPIDE_REQUIRE_SHARED(stories, "models/stories260K.gguf");
  const auto q = query_devices();
  if (q.devices.empty()) GTEST_SKIP() << "no CUDA device present: " << q.why_none;
  register_cuda_backend();
  auto file = gguf::GgufFile::open(stories);
  ASSERT_TRUE(file) << file.message();
  LoadOptions lc, lg;
  lg.device = "cuda";
  auto cpu = Model::load(*file, lc);
  ASSERT_TRUE(cpu) << cpu.message();
  auto gpu = Model::load(*file, lg);
  ASSERT_TRUE(gpu) << gpu.message();
  const Compare c = run_both(**cpu, **gpu, 40, 16, 5);
  EXPECT_LT(c.worst_err, 1e-3);
  EXPECT_EQ(c.top1_agree, c.rows);
}

// ---- device selection (runs everywhere) ---------------------------------------------------------

std::shared_ptr<const gguf::GgufFile> tiny_model(const rapide::testing::TempDir& dir) {
  MakeModelOptions o;
  o.dims = *preset_dims("tiny", "llama");
  o.format = *parse_weight_format("f32");
  o.vocab = write_vocab(dir.path());
  o.output = dir.path() / "tiny.gguf";
  auto made = make_model(o);
  EXPECT_TRUE(made) << made.message();
  auto file = gguf::GgufFile::open(o.output);
  EXPECT_TRUE(file) << file.message();
  return file ? *file : nullptr;
}

TEST(CudaDeviceSelection, AutoPicksCudaWhenPresentElseCpuAndSaysWhy) {
  register_cuda_backend();
  rapide::testing::TempDir dir;
  auto file = tiny_model(dir);
  ASSERT_TRUE(file);
  LoadOptions lo;
  lo.device = "auto";
  auto m = Model::load(file, lo);
  ASSERT_TRUE(m) << m.message();
  const auto q = query_devices();
  const std::string note = (*m)->device_note();
  if (q.devices.empty()) {
    EXPECT_EQ((*m)->backend().name(), "cpu");
    EXPECT_NE(note.find("device auto -> cpu: no usable CUDA device"), std::string::npos) << note;
  } else {
    EXPECT_EQ((*m)->backend().name(), "cuda:0") << note;
    EXPECT_NE(note.find("device auto -> cuda:0"), std::string::npos) << note;
  }
}

TEST(CudaDeviceSelection, CudaWithoutDeviceOrBadIndexIsAClearError) {
  register_cuda_backend();
  rapide::testing::TempDir dir;
  auto file = tiny_model(dir);
  ASSERT_TRUE(file);
  const auto q = query_devices();
  LoadOptions lo;
  lo.device = "cuda:" + std::to_string(q.devices.size());  // one past the last device
  auto m = Model::load(file, lo);
  ASSERT_FALSE(m);
  EXPECT_NE(m.message().find("device 'cuda:"), std::string::npos) << m.message();
  lo.device = "cuda:x";
  m = Model::load(file, lo);
  ASSERT_FALSE(m);
  EXPECT_NE(m.message().find("expected cpu, auto, cuda or cuda:N"), std::string::npos) << m.message();
  if (q.devices.empty()) {
    lo.device = "cuda";
    m = Model::load(file, lo);
    ASSERT_FALSE(m);
    EXPECT_NE(m.message().find("no usable CUDA device"), std::string::npos) << m.message();
  }
}

}  // namespace
}  // namespace rapide::inference::cuda
