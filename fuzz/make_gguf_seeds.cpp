// Writes the seed corpus of the GGUF reader fuzz target with GgufWriter: small valid files that
// cover every value type, arrays, alignments and several tensor types, plus a vocab-only file.
//   make_gguf_seeds OUTPUT_DIR
// scripts/fuzz.sh runs it; the seeds are committed under fuzz/corpus/gguf_reader/.
#include "rapide/inference/gguf_writer.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

using rapide::Status;
using namespace rapide::inference;
using namespace rapide::inference::gguf;

namespace {

bool save(const std::filesystem::path& dir, const char* name, const GgufWriter& w) {
  auto bytes = w.write_to_memory();
  if (!bytes) {
    std::fprintf(stderr, "%s: %s\n", name, bytes.message().c_str());
    return false;
  }
  std::ofstream out(dir / name, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes->data()), static_cast<std::streamsize>(bytes->size()));
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_gguf_seeds OUTPUT_DIR\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  bool ok = true;

  {  // every scalar type and arrays, no tensors (like a vocab file)
    GgufWriter w;
    w.set_string("general.architecture", "llama");
    w.set_uint8("a.u8", 1);
    w.set_int8("a.i8", -1);
    w.set_uint16("a.u16", 2);
    w.set_int16("a.i16", -2);
    w.set_uint32("a.u32", 3);
    w.set_int32("a.i32", -3);
    w.set_uint64("a.u64", 4);
    w.set_int64("a.i64", -4);
    w.set_float32("a.f32", 0.5f);
    w.set_float64("a.f64", 0.25);
    w.set_bool("a.bool", true);
    w.set_string_array("tokenizer.ggml.tokens", {"<s>", "</s>", "a", "\xE2\x96\x81" "b"});
    w.set_value("tokenizer.ggml.scores", Value::make_array(ValueType::FLOAT32, {Value::make_float(ValueType::FLOAT32, -1)}));
    w.set_value("tokenizer.ggml.token_type", Value::make_array(ValueType::INT32, {Value::make_int(ValueType::INT32, 1)}));
    ok &= save(dir, "seed-vocab-only.bin", w);
  }
  std::vector<std::uint8_t> data(4096);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 13);
  {  // a tiny model: several types and ranks, default alignment
    GgufWriter w;
    w.set_string("general.architecture", "llama");
    w.set_uint32("llama.block_count", 1);
    (void)w.add_tensor("token_embd.weight", TensorType::F32, {4, 8}, std::span(data).first(128));
    (void)w.add_tensor("blk.0.attn_q.weight", TensorType::Q8_0, {32, 2}, std::span(data).first(68));
    (void)w.add_tensor("blk.0.ffn_up_exps.weight", TensorType::F16, {4, 2, 2}, std::span(data).first(32));
    (void)w.add_tensor("blk.0.attn_k.weight", TensorType::Q4_K, {256, 1}, std::span(data).first(144));
    (void)w.add_tensor("output_norm.weight", TensorType::F32, {4}, std::span(data).first(16));
    ok &= save(dir, "seed-tiny-model.bin", w);
  }
  {  // explicit alignment 64 and a GGUF v2 header
    GgufWriter w(2);
    w.set_uint32("general.alignment", 64);
    w.set_string("general.name", "v2");
    (void)w.add_tensor("a", TensorType::BF16, {3}, std::span(data).first(6));
    (void)w.add_tensor("b", TensorType::Q6_K, {256}, std::span(data).first(210));
    ok &= save(dir, "seed-v2-align64.bin", w);
  }
  return ok ? 0 : 1;
}
