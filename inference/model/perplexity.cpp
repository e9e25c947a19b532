#include "rapide/inference/perplexity.h"

#include <algorithm>
#include <cmath>

namespace rapide::inference {

double log_softmax_at(std::span<const float> logits, std::int32_t target) {
  float mx = logits[0];
  for (float v : logits) mx = std::max(mx, v);
  double sum = 0.0;
  for (float v : logits) sum += std::exp(static_cast<double>(v) - mx);
  return static_cast<double>(logits[static_cast<std::size_t>(target)]) - mx - std::log(sum);
}

Result<PerplexityResult> compute_perplexity(Model& model, std::span<const std::int32_t> tokens,
                                            const PerplexityOptions& opts) {
  const std::int32_t n_ctx = opts.n_ctx;
  if (n_ctx < 4 || n_ctx % 2 != 0) return error("perplexity: context length must be even and >= 4, got ", n_ctx);
  const std::int64_t n_chunks = static_cast<std::int64_t>(tokens.size()) / n_ctx;
  if (n_chunks < 1)
    return error("perplexity: the text has ", tokens.size(), " tokens, fewer than one chunk of ", n_ctx,
                 " (use a longer text or a smaller --ctx)");
  const std::int32_t n_vocab = model.config().n_vocab;
  const std::int32_t first = n_ctx / 2;
  auto kv = model.new_kv_cache(n_ctx);
  if (!kv) return kv.error();
  std::vector<std::int32_t> chunk(static_cast<std::size_t>(n_ctx));
  std::vector<std::int32_t> rows;
  for (std::int32_t j = first; j < n_ctx - 1; ++j) rows.push_back(j);
  std::vector<float> logits(rows.size() * static_cast<std::size_t>(n_vocab));

  PerplexityResult res;
  double nll = 0.0;
  for (std::int64_t c = 0; c < n_chunks; ++c) {
    std::copy_n(tokens.begin() + c * n_ctx, n_ctx, chunk.begin());
    if (opts.bos >= 0) chunk[0] = opts.bos;
    (*kv)->truncate(0);
    Model::SequenceBatch b{kv->get(), chunk, rows, logits.data()};
    if (Status st = model.forward({&b, 1}); !st) return st.error();
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const std::int32_t target = tokens[static_cast<std::size_t>(c * n_ctx + rows[i] + 1)];
      nll -= log_softmax_at({logits.data() + i * static_cast<std::size_t>(n_vocab), static_cast<std::size_t>(n_vocab)},
                            target);
      ++res.n_scored;
    }
    res.running_ppl.push_back(std::exp(nll / static_cast<double>(res.n_scored)));
  }
  res.n_chunks = static_cast<std::int32_t>(n_chunks);
  res.mean_nll = nll / static_cast<double>(res.n_scored);
  res.ppl = std::exp(res.mean_nll);
  return res;
}

}  // namespace rapide::inference
