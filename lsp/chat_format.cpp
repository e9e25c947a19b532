#include "rapide/lsp/chat_format.h"

namespace rapide::lsp {

ChatFormat detect_chat_format(std::string_view t) {
  if (t.find("<|im_start|>") != std::string_view::npos) return ChatFormat::chatml;
  if (t.find("<|start_header_id|>") != std::string_view::npos) return ChatFormat::llama3;
  if (t.find("<\xEF\xBD\x9C" "User\xEF\xBD\x9C>") != std::string_view::npos) return ChatFormat::deepseek3;
  if (t.find("### Instruction") != std::string_view::npos) return ChatFormat::deepseek;
  return ChatFormat::comment;
}

std::string_view chat_format_name(ChatFormat f) {
  switch (f) {
    case ChatFormat::chatml:
      return "chatml";
    case ChatFormat::llama3:
      return "llama3";
    case ChatFormat::deepseek:
      return "deepseek";
    case ChatFormat::deepseek3:
      return "deepseek3";
    case ChatFormat::comment:
      break;
  }
  return "comment";
}

ChatPrompt render_chat(ChatFormat f, std::string_view system, std::string_view user, std::string_view comment_prefix,
                       std::string_view answer_lead) {
  ChatPrompt p;
  const std::string sys(system), usr(user), lead(answer_lead);
  switch (f) {
    case ChatFormat::chatml:
      p.text = "<|im_start|>system\n" + sys + "<|im_end|>\n<|im_start|>user\n" + usr +
               "<|im_end|>\n<|im_start|>assistant\n" + lead;
      p.stop_strings = {"<|im_end|>", "<|im_start|>"};
      break;
    case ChatFormat::llama3:
      p.text = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n" + sys +
               "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n" + usr +
               "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n" + lead;
      p.stop_strings = {"<|eot_id|>", "<|start_header_id|>"};
      break;
    case ChatFormat::deepseek:
      p.text = sys + "\n### Instruction:\n" + usr + "\n### Response:\n" + lead;
      p.stop_strings = {"<|EOT|>", "\n### Instruction:"};
      break;
    case ChatFormat::deepseek3:
      p.text = sys + "<\xEF\xBD\x9CUser\xEF\xBD\x9C>" + usr + "<\xEF\xBD\x9C" "Assistant\xEF\xBD\x9C>" + lead;
      p.stop_strings = {"<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
                        "<\xEF\xBD\x9CUser\xEF\xBD\x9C>"};
      break;
    case ChatFormat::comment: {
      const std::string c = comment_prefix.empty() ? std::string("#") : std::string(comment_prefix);
      auto commented = [&c](std::string_view s) {
        std::string out;
        std::size_t start = 0;
        while (start <= s.size()) {
          std::size_t end = s.find('\n', start);
          if (end == std::string_view::npos) end = s.size();
          out += c + " " + std::string(s.substr(start, end - start)) + "\n";
          start = end + 1;
        }
        return out;
      };
      p.text = commented(sys) + commented(usr) + lead;
      p.stop_strings = {};
      break;
    }
  }
  return p;
}

std::string extract_code_block(std::string_view answer) {
  const std::size_t open = answer.find("```");
  if (open == std::string_view::npos) return std::string(answer);
  std::size_t body = answer.find('\n', open);
  if (body == std::string_view::npos) return {};
  ++body;
  const std::size_t close = answer.find("```", body);
  std::string_view code = answer.substr(body, close == std::string_view::npos ? std::string_view::npos : close - body);
  return std::string(code);
}

}  // namespace rapide::lsp
