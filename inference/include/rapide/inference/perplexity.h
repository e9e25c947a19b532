// Perplexity as llama.cpp's llama-perplexity computes it, so the figures compare one to one:
// the token sequence (tokenized once, with BOS when the tokenizer adds one) is cut into chunks of
// n_ctx tokens; each chunk is evaluated from an empty KV cache with its first token replaced by
// BOS (when `bos` >= 0), and only the second half is scored: positions j in [n_ctx/2, n_ctx - 1)
// predict token j + 1. PPL = exp(mean negative log-likelihood over all scored tokens).
#pragma once

#include "rapide/inference/model.h"
#include "rapide/inference/result.h"

#include <cstdint>
#include <span>
#include <vector>

namespace rapide::inference {

struct PerplexityOptions {
  std::int32_t n_ctx = 512;  // chunk length (>= 4, even)
  std::int32_t bos = -1;     // replaces the first token of each chunk when >= 0
};

struct PerplexityResult {
  double ppl = 0.0;
  double mean_nll = 0.0;
  std::int64_t n_scored = 0;
  std::int32_t n_chunks = 0;
  std::vector<double> running_ppl;  // after each chunk, like llama-perplexity's [i]x.xxxx lines
};

// Errors: fewer than one chunk of tokens, a bad n_ctx, or a failing forward.
Result<PerplexityResult> compute_perplexity(Model& model, std::span<const std::int32_t> tokens,
                                            const PerplexityOptions& opts);

// log of the softmax of `logits` at index `target` (double precision).
double log_softmax_at(std::span<const float> logits, std::int32_t target);

}  // namespace rapide::inference
