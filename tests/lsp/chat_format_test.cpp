// Chat format detection from real template markers, rendering, and code-block extraction.
#include "rapide/lsp/chat_format.h"

#include <gtest/gtest.h>

namespace rapide::lsp {
namespace {

TEST(ChatFormat, DetectsFamilies) {
  // Excerpts of the templates shipped in the GGUF files of each family.
  EXPECT_EQ(detect_chat_format("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n'"),
            ChatFormat::chatml);
  EXPECT_EQ(detect_chat_format("{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}"),
            ChatFormat::llama3);
  EXPECT_EQ(detect_chat_format("{{'### Instruction:\\n' + message['content'] + '\\n'}}"), ChatFormat::deepseek);
  EXPECT_EQ(detect_chat_format("{{'<｜User｜>' + message['content']}}"), ChatFormat::deepseek3);
  EXPECT_EQ(detect_chat_format(""), ChatFormat::comment);
  EXPECT_EQ(chat_format_name(ChatFormat::llama3), "llama3");
}

TEST(ChatFormat, RendersChatML) {
  auto p = render_chat(ChatFormat::chatml, "Be brief.", "Fix x", "#");
  EXPECT_EQ(p.text, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nFix x<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(p.stop_strings.front(), "<|im_end|>");
}

TEST(ChatFormat, RendersLlama3AndDeepSeek) {
  auto l = render_chat(ChatFormat::llama3, "S", "U", "#");
  EXPECT_NE(l.text.find("<|start_header_id|>user<|end_header_id|>\n\nU<|eot_id|>"), std::string::npos);
  EXPECT_TRUE(l.text.ends_with("<|start_header_id|>assistant<|end_header_id|>\n\n"));
  auto d = render_chat(ChatFormat::deepseek, "S", "U", "#");
  EXPECT_EQ(d.text, "S\n### Instruction:\nU\n### Response:\n");
}

TEST(ChatFormat, CommentFallbackForBaseModels) {
  auto p = render_chat(ChatFormat::comment, "Explain the code.", "def f():\n    pass", "#", "# Explanation:");
  EXPECT_EQ(p.text, "# Explain the code.\n# def f():\n#     pass\n# Explanation:");
  auto c = render_chat(ChatFormat::comment, "Fix", "x", "//");
  EXPECT_EQ(c.text, "// Fix\n// x\n");
}

TEST(ChatFormat, ExtractsCodeBlocks) {
  EXPECT_EQ(extract_code_block("Here:\n```python\nx = 1\n```\nDone"), "x = 1\n");
  EXPECT_EQ(extract_code_block("```\ny = 2\n"), "y = 2\n");
  EXPECT_EQ(extract_code_block("z = 3"), "z = 3");
}

}  // namespace
}  // namespace rapide::lsp
