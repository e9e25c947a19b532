// Prompts for fixes and explanations in the model's chat format.
//
// The format is recognised from the GGUF's `tokenizer.chat_template` (a Jinja template we do not
// execute; we look for the markers each family uses):
//   chatml     "<|im_start|>"           Qwen / Qwen2.5-Coder-Instruct, many others
//   llama3     "<|start_header_id|>"    Llama 3.x Instruct
//   deepseek   "### Instruction:"       DeepSeek-Coder Instruct (v1)
//   deepseek3  "<｜User｜>"              DeepSeek V2/V3 chat
//   comment    no template              base models: the request is written as a code comment
//                                       and the model continues code (what a base model does)
// Rendered prompts contain the control tokens as text: encode them with parse_special = true.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace rapide::lsp {

enum class ChatFormat { chatml, llama3, deepseek, deepseek3, comment };

ChatFormat detect_chat_format(std::string_view chat_template);
std::string_view chat_format_name(ChatFormat f);

struct ChatPrompt {
  std::string text;                        // the prompt, ending where the answer starts
  std::vector<std::string> stop_strings;   // end-of-turn markers as text
};

// system: the instruction for the assistant; user: the request with the code. For the comment
// format, comment_prefix is the language's line comment ("#", "//"); the user text is written as
// comment lines and `answer_lead` (e.g. the code to fix, or "Explanation:") opens the answer.
ChatPrompt render_chat(ChatFormat f, std::string_view system, std::string_view user, std::string_view comment_prefix,
                       std::string_view answer_lead = {});

// The first fenced code block of a chat answer (```lang ... ```), or the whole answer trimmed of
// a lone opening fence when the block is not closed; the answer itself when there is no fence.
std::string extract_code_block(std::string_view answer);

}  // namespace rapide::lsp
