// Tokenizer behaviour beyond the llama.cpp vectors: special and FIM tokens, parse_special,
// round trips, the streaming decoder, and clear errors for bad metadata. Tests that need
// ../shared skip with a message when it is absent.
#include "rapide/inference/gguf.h"
#include "rapide/inference/gguf_writer.h"
#include "rapide/inference/tokenizer.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace rapide::inference {
namespace {

using Ids = std::vector<std::int32_t>;

std::shared_ptr<const Tokenizer> load(const std::filesystem::path& p) {
  auto file = gguf::GgufFile::open(p);
  EXPECT_TRUE(file) << file.message();
  if (!file) return nullptr;
  auto tok = Tokenizer::from_gguf(**file);
  EXPECT_TRUE(tok) << tok.message();
  return tok ? *tok : nullptr;
}

// Valid UTF-8 with a mix of scripts, emoji (ZWJ sequences), code and white space.
const std::vector<std::string> k_texts = {
    "",
    " ",
    "Hello world",
    "   leading and trailing   ",
    "def f(x):\n\treturn x ** 2  # square\n\n\n",
    "int main() { std::vector<int> v{1, 2, 3}; return v[0] != 0 ? 1 : 0; }\r\n",
    "Ünïcödé façade naïve — “quotes” … 日本語のテキスト、中文文本。한국어 Ελληνικά русский עברית العربية हिन्दी ไทย",
    "🦙🚀👩‍👩‍👧 \xc2\xa0" "nbsp\xe2\x80\x83" "em\xe3\x80\x80" "ideo",
    "1234567890 12.5e-3 0x1F 'S 'LL 'Ve don't I'M we'RE ½ ⅞ ² ٣٤٥",
    "A\xcc\x81 e\xcc\x88 \xef\xac\x81 \xef\xbf\xbd \xf0\x9f\x98\x80",
    std::string(300, ' ') + "x" + std::string(200, 'a') + std::string(150, '\n'),
};

class RoundTrip : public ::testing::TestWithParam<const char*> {};

TEST_P(RoundTrip, DecodeOfEncodeGivesTheText) {
  const std::string name = GetParam();
  RAPIDE_REQUIRE_SHARED(path, name);
  auto tok = load(path);
  ASSERT_TRUE(tok);
  DecodeOptions opt;
  opt.remove_space_prefix = true;
  for (const std::string& t : k_texts) {
    const Ids ids = tok->encode(t, false, false);
    EXPECT_EQ(tok->decode(ids, opt), t) << name << ": '" << t << "'";
    // Streaming gives the same bytes, and never hands out a partial UTF-8 sequence.
    StreamingDecoder sd(*tok, opt);
    std::string streamed;
    for (std::int32_t id : ids) {
      const std::string part = sd.push(id);
      EXPECT_EQ(utf8_complete_prefix(part), part.size()) << "partial UTF-8 handed out for '" << t << "'";
      streamed += part;
    }
    EXPECT_EQ(sd.pending_bytes(), 0u);
    streamed += sd.flush();
    EXPECT_EQ(streamed, t) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Shared, RoundTrip,
                         ::testing::Values("vocab/ggml-vocab-qwen2.gguf", "vocab/ggml-vocab-llama-bpe.gguf",
                                           "vocab/ggml-vocab-gpt-2.gguf", "vocab/ggml-vocab-deepseek-coder.gguf",
                                           "vocab/ggml-vocab-starcoder.gguf", "vocab/ggml-vocab-llama-spm.gguf",
                                           "models/stories260K.gguf"),
                         [](const ::testing::TestParamInfo<const char*>& info_) {
                           std::string s = info_.param;
                           s = s.substr(s.rfind('/') + 1);
                           std::string out;
                           for (char c : s)
                             if (std::isalnum(static_cast<unsigned char>(c))) out += c;
                           return out;
                         });

TEST(Tokenizer, Qwen2SpecialAndFimTokens) {
  RAPIDE_REQUIRE_SHARED(path, "vocab/ggml-vocab-qwen2.gguf");
  auto tok = load(path);
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->kind(), TokenizerKind::BPE);
  EXPECT_EQ(tok->pre_name(), "qwen2");
  EXPECT_EQ(tok->n_vocab(), 151936);
  EXPECT_EQ(tok->fim_pre(), 151659);
  EXPECT_EQ(tok->fim_suf(), 151661);
  EXPECT_EQ(tok->fim_mid(), 151660);
  EXPECT_EQ(tok->fim_pad(), 151662);
  EXPECT_EQ(tok->fim_rep(), 151663);
  EXPECT_EQ(tok->fim_sep(), 151664);
  EXPECT_EQ(tok->eos(), 151643);
  EXPECT_EQ(tok->eot(), 151645);  // <|im_end|>, found by text
  EXPECT_TRUE(tok->is_eog(151645));
  EXPECT_TRUE(tok->is_eog(151643));
  EXPECT_FALSE(tok->add_bos());
  EXPECT_TRUE(tok->is_control(151645));
  EXPECT_FALSE(tok->is_control(750));

  // Expected ids from DATA.md (checked against llama.cpp there).
  EXPECT_EQ(tok->encode("<|fim_prefix|>def f():<|fim_suffix|>\n<|fim_middle|>", false, true),
            (Ids{151659, 750, 282, 4555, 151661, 198, 151660}));
  EXPECT_EQ(tok->encode("<|im_start|>user\nhi<|im_end|>", false, true), (Ids{151644, 872, 198, 6023, 151645}));
  // Without parse_special the same text is plain text.
  const Ids plain = tok->encode("<|fim_prefix|>def", false, false);
  for (std::int32_t id : plain) EXPECT_LT(id, 151643);
  // USER_DEFINED tokens match even without parse_special (as llama.cpp does).
  EXPECT_EQ(tok->encode("<tool_call>", false, false), (Ids{151657}));

  EXPECT_EQ(tok->token_to_piece(151659), "<|fim_prefix|>");
  EXPECT_EQ(tok->token_to_piece(198), "\n");
  DecodeOptions skip;
  skip.skip_control = true;
  const Ids fim = {151659, 750, 151661};
  EXPECT_EQ(tok->decode(fim), "<|fim_prefix|>def<|fim_suffix|>");
  EXPECT_EQ(tok->decode(fim, skip), "def");
}

TEST(Tokenizer, Llama3ChatAndAddSpecial) {
  RAPIDE_REQUIRE_SHARED(path, "vocab/ggml-vocab-llama-bpe.gguf");
  auto tok = load(path);
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->encode("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>", false, true),
            (Ids{128000, 128006, 882, 128007, 271, 6151, 128009}));
  EXPECT_EQ(tok->eot(), 128009);
  EXPECT_TRUE(tok->add_bos());
  const Ids with_bos = tok->encode("hi", true, false);
  ASSERT_FALSE(with_bos.empty());
  EXPECT_EQ(with_bos.front(), 128000);
  EXPECT_EQ(Ids(with_bos.begin() + 1, with_bos.end()), tok->encode("hi", false, false));
}

TEST(Tokenizer, DeepSeekCoderFimByText) {
  RAPIDE_REQUIRE_SHARED(path, "vocab/ggml-vocab-deepseek-coder.gguf");
  auto tok = load(path);
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->fim_pre(), tok->find_token("<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>"));
  EXPECT_EQ(tok->fim_suf(), tok->find_token("<\xef\xbd\x9c" "fim\xe2\x96\x81hole\xef\xbd\x9c>"));
  EXPECT_EQ(tok->fim_mid(), tok->find_token("<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>"));
  EXPECT_GE(tok->fim_pre(), 0);
  const Ids ids = tok->encode("<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>x", false, true);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), tok->fim_pre());
}

TEST(Tokenizer, SpmSpacePrefixAndByteFallback) {
  RAPIDE_REQUIRE_SHARED(path, "vocab/ggml-vocab-llama-spm.gguf");
  auto tok = load(path);
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->kind(), TokenizerKind::SPM);
  EXPECT_TRUE(tok->add_space_prefix());
  EXPECT_EQ(tok->bos(), 1);
  EXPECT_EQ(tok->eos(), 2);
  // FORMAT.md: "ied 4 ½ months" -> ▁i ed ▁ 4 ▁ ½ ▁months
  EXPECT_EQ(tok->encode("ied 4 \xc2\xbd months", false, false), (Ids{474, 287, 29871, 29946, 29871, 30226, 7378}));
  EXPECT_EQ(tok->encode("x", true, false).front(), 1);
  // A character outside the vocabulary falls back to its UTF-8 bytes <0xNN>.
  const Ids ids = tok->encode("\xf0\x9f\xa6\x99", false, false);  // 🦙
  int bytes = 0;
  for (std::int32_t id : ids) bytes += tok->token_type(id) == TokenType::BYTE;
  EXPECT_EQ(bytes, 4);
  EXPECT_EQ(tok->token_to_piece(tok->find_token("<0x0A>")), "\n");
  // <s> is plain text unless parse_special.
  EXPECT_NE(tok->encode("<s>", false, false), (Ids{1}));
  EXPECT_EQ(tok->encode("<s>", false, true), (Ids{1}));
}

TEST(Tokenizer, WordPieceBert) {
  RAPIDE_REQUIRE_SHARED(path, "vocab/ggml-vocab-bert-bge.gguf");
  auto tok = load(path);
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->kind(), TokenizerKind::WPM);
  const Ids ids = tok->encode("Hello, World!", true, false);
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids.front(), 101);  // [CLS]
  EXPECT_EQ(ids.back(), 102);   // [SEP]
  // Lower-cased and accents stripped: the same ids as the plain form.
  EXPECT_EQ(tok->encode("H\xc3\xa9llo WORLD", false, false), tok->encode("hello world", false, false));
  EXPECT_EQ(tok->decode(tok->encode("hello world", false, false)), " hello world");
}

TEST(Tokenizer, MissingPreFallsBackToDefault) {
  RAPIDE_REQUIRE_SHARED(path, "vocab/ggml-vocab-gpt-neox.gguf");
  auto tok = load(path);
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->pre_name(), "default");
  EXPECT_EQ(tok->decode(tok->encode("Hello world 123", false, false)), "Hello world 123");
}

TEST(Tokenizer, StoriesModelVocabulary) {
  RAPIDE_REQUIRE_SHARED(path, "models/stories260K.gguf");
  auto tok = load(path);
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->n_vocab(), 512);
  const Ids ids = tok->encode("Once upon a time", true, false);
  ASSERT_GE(ids.size(), 2u);
  EXPECT_EQ(ids.front(), 1);
  DecodeOptions opt;
  opt.skip_control = true;
  opt.remove_space_prefix = true;
  EXPECT_EQ(tok->decode(ids, opt), "Once upon a time");
}

TEST(StreamingDecoder, HoldsPartialUtf8) {
  EXPECT_EQ(utf8_complete_prefix(""), 0u);
  EXPECT_EQ(utf8_complete_prefix("abc"), 3u);
  EXPECT_EQ(utf8_complete_prefix("a\xf0\x9f"), 1u);          // 2 of 4 bytes
  EXPECT_EQ(utf8_complete_prefix("a\xf0\x9f\xa6\x99"), 5u);  // complete
  EXPECT_EQ(utf8_complete_prefix("\xe2\x96"), 0u);
  EXPECT_EQ(utf8_complete_prefix("\xc3"), 0u);
  EXPECT_EQ(utf8_complete_prefix("x\x80\x80\x80\x80"), 5u);  // stray continuation bytes pass

  RAPIDE_REQUIRE_SHARED(path, "vocab/ggml-vocab-llama-spm.gguf");
  auto tok = load(path);
  ASSERT_TRUE(tok);
  // 🦙 is four <0xNN> byte tokens in this vocabulary: nothing comes out until the fourth.
  const Ids ids = tok->encode("\xf0\x9f\xa6\x99", false, false);
  ASSERT_GE(ids.size(), 4u);
  StreamingDecoder sd(*tok);
  std::string out;
  std::size_t held_max = 0;
  for (std::int32_t id : ids) {
    out += sd.push(id);
    held_max = std::max(held_max, sd.pending_bytes());
  }
  EXPECT_EQ(held_max, 3u);
  EXPECT_EQ(out, " \xf0\x9f\xa6\x99");  // the dummy space prefix is kept unless asked otherwise
  EXPECT_EQ(sd.flush(), "");
  // An unfinished sequence at the end comes back from flush().
  StreamingDecoder partial(*tok);
  EXPECT_EQ(partial.push(tok->find_token("<0xF0>")), "");
  EXPECT_EQ(partial.flush(), "\xf0");
}

// ---- bad metadata -------------------------------------------------------------------------

std::string load_error(gguf::GgufWriter& w) {
  auto bytes = w.write_to_memory();
  EXPECT_TRUE(bytes) << bytes.message();
  if (!bytes) return {};
  auto file = gguf::GgufFile::parse(*bytes, "synthetic.gguf");
  EXPECT_TRUE(file) << file.message();
  if (!file) return {};
  auto tok = Tokenizer::from_gguf(**file);
  return tok ? std::string() : tok.message();
}

gguf::GgufWriter tiny_bpe() {
  gguf::GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", "qwen2");
  std::vector<std::string> tokens;
  for (int c = 'a'; c <= 'z'; ++c) tokens.emplace_back(1, static_cast<char>(c));
  tokens.emplace_back("ab");
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  w.set_string_array("tokenizer.ggml.merges", {"a b"});
  return w;
}

TEST(TokenizerErrors, SyntheticVocabularyWorks) {
  auto w = tiny_bpe();
  auto bytes = w.write_to_memory();
  ASSERT_TRUE(bytes) << bytes.message();
  auto file = gguf::GgufFile::parse(*bytes, "synthetic.gguf");
  ASSERT_TRUE(file) << file.message();
  auto tok = Tokenizer::from_gguf(**file);
  ASSERT_TRUE(tok) << tok.message();
  EXPECT_EQ((*tok)->encode("abc", false, false), (Ids{26, 2}));
  // A character with no token and no merges is dropped, as llama.cpp drops it.
  EXPECT_EQ((*tok)->encode("a!", false, false), (Ids{0}));
}

TEST(TokenizerErrors, ClearMessages) {
  {
    gguf::GgufWriter w;
    w.set_string("general.architecture", "llama");
    EXPECT_NE(load_error(w).find("'tokenizer.ggml.model' is missing"), std::string::npos) << load_error(w);
  }
  {
    auto w = tiny_bpe();
    w.remove("tokenizer.ggml.tokens");
    EXPECT_NE(load_error(w).find("'tokenizer.ggml.tokens' is missing"), std::string::npos) << load_error(w);
  }
  {
    auto w = tiny_bpe();
    w.remove("tokenizer.ggml.merges");
    EXPECT_NE(load_error(w).find("'tokenizer.ggml.merges' is missing"), std::string::npos) << load_error(w);
  }
  {
    auto w = tiny_bpe();
    w.set_string("tokenizer.ggml.pre", "no-such-pre");
    const std::string e = load_error(w);
    EXPECT_NE(e.find("unknown pre-tokenizer"), std::string::npos) << e;
    EXPECT_NE(e.find("qwen2"), std::string::npos) << e;  // lists the known ones
  }
  {
    auto w = tiny_bpe();
    w.set_uint32("tokenizer.ggml.tokens", 7);
    const std::string e = load_error(w);
    EXPECT_NE(e.find("should be an array of strings, got uint32"), std::string::npos) << e;
  }
  {
    auto w = tiny_bpe();
    std::vector<gguf::Value> types(3, gguf::Value::make_int(gguf::ValueType::INT32, 1));
    w.set_value("tokenizer.ggml.token_type", gguf::Value::make_array(gguf::ValueType::INT32, types));
    const std::string e = load_error(w);
    EXPECT_NE(e.find("'tokenizer.ggml.token_type' has 3 entries, expected 27"), std::string::npos) << e;
  }
  {
    auto w = tiny_bpe();
    w.set_string("tokenizer.ggml.model", "rwkv");
    EXPECT_NE(load_error(w).find("'rwkv' is not supported"), std::string::npos) << load_error(w);
  }
  {
    auto w = tiny_bpe();
    w.set_uint32("tokenizer.ggml.eos_token_id", 99999);  // out of range: ignored, not a crash
    EXPECT_EQ(load_error(w), "");
  }
}

}  // namespace
}  // namespace rapide::inference
