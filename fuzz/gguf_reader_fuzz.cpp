// libFuzzer target for the GGUF reader. Any input must either parse or be rejected with a
// message; never crash, read out of bounds or hit undefined behaviour (built with ASan+UBSan).
// A file that parses must also survive a rewrite: GgufWriter copies its metadata and tensors,
// and the result parses again with the same keys and tensor bytes.
#include "rapide/inference/gguf.h"
#include "rapide/inference/gguf_writer.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

using rapide::Status;
using namespace rapide::inference;
using namespace rapide::inference::gguf;

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "gguf_reader_fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

// Touches every value so ASan sees any bad view.
std::uint64_t walk(const Value& v) {
  std::uint64_t h = static_cast<std::uint64_t>(v.type());
  if (auto s = v.as_string()) {
    for (char c : *s) h = h * 31 + static_cast<unsigned char>(c);
  }
  if (auto u = v.as_uint()) h ^= *u;
  if (auto i = v.as_int()) h ^= static_cast<std::uint64_t>(*i);
  if (auto f = v.as_float()) h ^= static_cast<std::uint64_t>(*f != *f);
  for (const Value& item : v.array()) h += walk(item);
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto parsed = GgufFile::parse(std::span<const std::uint8_t>(data, size), "fuzz");
  if (!parsed) {
    if (parsed.message().size() < 8) fail("error message too short", parsed.message());
    return 0;
  }
  const GgufFile& g = **parsed;
  std::uint64_t h = 0;
  for (const KeyValue& kv : g.metadata()) h += walk(kv.value) + kv.key.size();
  for (const TensorInfo& t : g.tensors()) {
    auto bytes = g.tensor_data(t);
    if (bytes.size() != t.n_bytes) fail("tensor view size", std::string(t.name));
    if (!bytes.empty()) h += bytes.front() + bytes.back();
  }

  GgufWriter w(g.version());
  w.copy_metadata(g);
  for (const TensorInfo& t : g.tensors()) {
    if (Status s = w.add_tensor(t.name, t.type, t.dims, g.tensor_data(t)); !s) fail("rewrite add_tensor", s.message());
  }
  auto again = w.write_to_memory();
  if (!again) fail("rewrite", again.message());
  auto reparsed = GgufFile::parse(*again, "rewrite");
  if (!reparsed) fail("reparse of a rewritten file", reparsed.message());
  const GgufFile& r = **reparsed;
  if (r.metadata().size() != g.metadata().size() || r.tensors().size() != g.tensors().size()) fail("rewrite", "counts differ");
  for (std::size_t i = 0; i < g.tensors().size(); ++i) {
    auto a = g.tensor_data(g.tensors()[i]);
    auto b = r.tensor_data(r.tensors()[i]);
    if (a.size() != b.size() || (!a.empty() && std::memcmp(a.data(), b.data(), a.size()) != 0))
      fail("rewrite changed tensor bytes", std::string(g.tensors()[i].name));
  }
  return h == 0x123456789abcdefull ? 1 : 0;  // keep h alive
}
