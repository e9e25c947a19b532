// FIM prompt layouts (see fim.h).
#include "rapide/inference/engine/fim.h"

#include <algorithm>

namespace rapide::inference::engine {

std::string_view fim_format_name(FimFormat f) {
  switch (f) {
    case FimFormat::PLAIN: return "plain";
    case FimFormat::QWEN_REPO: return "qwen-repo";
    case FimFormat::STARCODER_REPO: return "starcoder-repo";
  }
  return "?";
}

Result<FimTemplate> FimTemplate::from_tokenizer(std::shared_ptr<const Tokenizer> tokenizer) {
  if (!tokenizer) return error("fim: no tokenizer");
  FimTemplate t;
  t.tok_ = tokenizer;
  t.pre_ = tokenizer->fim_pre();
  t.suf_ = tokenizer->fim_suf();
  t.mid_ = tokenizer->fim_mid();
  t.pad_ = tokenizer->fim_pad();
  if (t.pre_ < 0 || t.suf_ < 0 || t.mid_ < 0)
    return error("fim: the model's vocabulary has no fill-in-the-middle tokens (prefix ", t.pre_, ", suffix ", t.suf_,
                 ", middle ", t.mid_, "; expected e.g. <|fim_prefix|>/<|fim_suffix|>/<|fim_middle|>): "
                 "use a code model trained for infilling");
  const std::int32_t qwen_repo = tokenizer->find_token("<|repo_name|>");
  const std::int32_t qwen_sep = tokenizer->find_token("<|file_sep|>");
  const std::int32_t sc_repo = tokenizer->find_token("<repo_name>");
  const std::int32_t sc_sep = tokenizer->find_token("<file_sep>");
  if (qwen_repo >= 0 && qwen_sep >= 0) {
    t.format_ = FimFormat::QWEN_REPO;
    t.repo_ = qwen_repo;
    t.sep_ = qwen_sep;
  } else if (sc_repo >= 0 && sc_sep >= 0) {
    t.format_ = FimFormat::STARCODER_REPO;
    t.repo_ = sc_repo;
    t.sep_ = sc_sep;
  }
  return t;
}

FimPrompt FimTemplate::build(const FimInput& in, FimOrder order) const {
  FimPrompt p;
  auto& out = p.tokens;
  auto text = [&](std::string_view s) {
    if (s.empty()) return;
    const auto ids = tok_->encode(s, false, false);
    out.insert(out.end(), ids.begin(), ids.end());
  };
  if (tok_->add_bos() && tok_->bos() >= 0) out.push_back(tok_->bos());
  if (repo_level()) {
    out.push_back(repo_);
    text(format_ == FimFormat::QWEN_REPO ? in.repo_name + "\n" : in.repo_name);
    for (const auto& [path, body] : in.other_files) {
      out.push_back(sep_);
      std::string chunk = path + "\n" + body;
      if (format_ == FimFormat::QWEN_REPO && !chunk.empty() && chunk.back() != '\n') chunk += '\n';
      text(chunk);
    }
    if (!in.file_path.empty() || !in.other_files.empty()) {
      out.push_back(sep_);
      text(in.file_path + "\n");
    }
  }
  p.context_tokens = out.size();
  if (order == FimOrder::PSM) {
    out.push_back(pre_);
    text(in.prefix);
    out.push_back(suf_);
    text(in.suffix);
  } else {
    out.push_back(suf_);
    text(in.suffix);
    out.push_back(pre_);
    text(in.prefix);
  }
  out.push_back(mid_);
  return p;
}

std::vector<std::int32_t> FimTemplate::stop_tokens() const {
  std::vector<std::int32_t> s;
  for (std::int32_t id : {tok_->eos(), tok_->eot(), tok_->eom(), pad_, sep_, repo_, pre_, suf_, mid_})
    if (id >= 0 && std::find(s.begin(), s.end(), id) == s.end()) s.push_back(id);
  return s;
}

}  // namespace rapide::inference::engine
