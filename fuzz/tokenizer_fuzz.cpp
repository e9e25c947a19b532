// libFuzzer target for the tokenizers: arbitrary bytes through the qwen2 byte-level BPE and the
// llama SentencePiece vocabularies (llama.cpp's ggml-vocab-*.gguf test files). The folder is
// $RAPIDE_FUZZ_VOCAB_DIR, else the shared test data folder compiled in; when the files are
// absent the target says so once and every input is a no-op (nothing to fuzz, not a failure).
//
// Input: byte 0 picks the tokenizer and flags (add_special, parse_special); the rest is text.
// Checks, besides no crash/UB/leak:
//   - every id is in [0, n_vocab);
//   - byte-level BPE: decode(encode(text)) == text for valid UTF-8 (parse_special off);
//   - SPM: decode(encode(text), remove_space_prefix) == text when text is valid UTF-8 without
//     U+2581 (the space marker, which decodes to ' ') - byte fallback covers everything else;
//   - StreamingDecoder fed the ids one by one (then flushed) yields the same bytes as decode();
//   - decode() of arbitrary ids taken from the input (out of range included) does not fail.
#include "rapide/inference/gguf.h"
#include "rapide/inference/tokenizer.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#ifndef RAPIDE_SHARED_DIR
#define RAPIDE_SHARED_DIR ""
#endif

namespace {

using namespace rapide::inference;

std::shared_ptr<const Tokenizer> g_bpe, g_spm;

[[noreturn]] void fail(const char* what, const std::string& text) {
  std::string hex;
  for (unsigned char c : text) {
    char b[4];
    std::snprintf(b, sizeof b, "%02x", c);
    hex += b;
  }
  std::fprintf(stderr, "tokenizer_fuzz: %s (text hex: %s)\n", what, hex.c_str());
  std::abort();
}

std::shared_ptr<const Tokenizer> load(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) return nullptr;
  auto file = gguf::GgufFile::open(path);
  if (!file.ok()) {
    std::fprintf(stderr, "tokenizer_fuzz: %s: %s\n", path.c_str(), file.message().c_str());
    std::exit(1);
  }
  auto tok = Tokenizer::from_gguf(**file);
  if (!tok.ok()) {
    std::fprintf(stderr, "tokenizer_fuzz: %s: %s\n", path.c_str(), tok.message().c_str());
    std::exit(1);
  }
  return *tok;
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    std::uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
    for (std::size_t k = 1; k < n; ++k) {
      unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = cp << 6 | (d & 0x3F);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* env = std::getenv("RAPIDE_FUZZ_VOCAB_DIR");
  std::filesystem::path dir = env != nullptr ? std::filesystem::path(env) : std::filesystem::path(RAPIDE_SHARED_DIR) / "vocab";
  g_bpe = load(dir / "ggml-vocab-qwen2.gguf");
  g_spm = load(dir / "ggml-vocab-llama-spm.gguf");
  if (!g_bpe || !g_spm)
    std::fprintf(stderr, "tokenizer_fuzz: vocab files not found in %s (set RAPIDE_FUZZ_VOCAB_DIR): nothing to fuzz\n",
                 dir.c_str());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (!g_bpe || !g_spm || size == 0) return 0;
  const std::uint8_t flags = data[0];
  const Tokenizer& tok = (flags & 1) ? *g_spm : *g_bpe;
  const bool add_special = (flags & 2) != 0, parse_special = (flags & 4) != 0;
  std::string text(reinterpret_cast<const char*>(data + 1), size - 1);

  std::vector<std::int32_t> ids = tok.encode(text, add_special, parse_special);
  for (std::int32_t id : ids)
    if (id < 0 || id >= tok.n_vocab()) fail("id out of range", text);

  DecodeOptions options;
  options.remove_space_prefix = tok.kind() == TokenizerKind::SPM;
  std::string back = tok.decode(ids, options);
  if (!add_special && !parse_special) {
    // Invalid UTF-8 is not round-tripped byte for byte (llama.cpp reads it as U+FFFD), so the
    // check needs valid text; SPM also needs text without U+2581.
    bool must_hold = valid_utf8(text) &&
                     (tok.kind() == TokenizerKind::BPE || text.find("\xe2\x96\x81") == std::string::npos);
    if (must_hold && back != text) fail("decode(encode(text)) != text", text);
  }

  StreamingDecoder stream(tok, options);
  std::string streamed;
  for (std::int32_t id : ids) streamed += stream.push(id);
  streamed += stream.flush();
  if (streamed != back) fail("streaming decode differs from decode()", text);

  // Arbitrary ids (little-endian int32s of the input, out of range included).
  std::vector<std::int32_t> raw;
  for (std::size_t i = 1; i + 4 <= size && raw.size() < 64; i += 4) {
    std::int32_t v = static_cast<std::int32_t>(static_cast<std::uint32_t>(data[i]) | static_cast<std::uint32_t>(data[i + 1]) << 8 |
                                               static_cast<std::uint32_t>(data[i + 2]) << 16 |
                                               static_cast<std::uint32_t>(data[i + 3]) << 24);
    raw.push_back((flags & 8) ? v : v % (tok.n_vocab() + 8));
  }
  std::string junk = tok.decode(raw, options);
  StreamingDecoder s2(tok, options);
  std::string junk2;
  for (std::int32_t id : raw) junk2 += s2.push(id);
  junk2 += s2.flush();
  if (junk2 != junk) fail("streaming decode of raw ids differs from decode()", text);
  return 0;
}
