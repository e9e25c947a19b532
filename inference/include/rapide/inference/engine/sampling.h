// Sampling: turning one row of logits into the next token, and the stop rules of a generation.
//
// The pipeline, applied to a row of logits (llama.cpp's default order):
//   1. logit bias        logits[id] += bias (a bias of -inf bans the token)
//   2. penalties         over the last `penalty_last_n` tokens of the history (prompt + generated):
//                        repetition (CTRL-style: positive logits divided by the penalty, negative
//                        ones multiplied), then presence (-= presence) and frequency (-= count * f)
//   3. greedy            temperature <= 0: argmax (lowest id on ties), done
//   4. top-k, top-p, min-p on the softmax of the (penalised) logits, each keeping at least one token
//   5. temperature       the survivors' logits are divided by T and renormalised
//   6. draw              one uniform number from the seeded RNG, inverse CDF over the survivors
//
// `distribution()` returns the distribution of step 5 explicitly (sparse: only tokens with
// non-zero probability), which speculative decoding needs for its rejection rule; `sample()` draws
// from exactly that distribution, so plain and speculative decoding sample the same law.
//
// Determinism: the RNG is a splitmix64-seeded xoshiro256** with our own double conversion, so a
// seed gives the same tokens on every platform and compiler.
//
// Thread-safety: a Sampler is owned by one generation (one thread at a time). StopMatcher too.
#pragma once

#include "rapide/inference/result.h"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rapide::inference::engine {

struct SamplingParams {
  float temperature = 0.0f;        // <= 0: greedy
  int top_k = 0;                   // <= 0: off
  float top_p = 1.0f;              // >= 1: off
  float min_p = 0.0f;              // <= 0: off (keeps p >= min_p * p_max)
  float repetition_penalty = 1.0f;  // 1: off
  float presence_penalty = 0.0f;   // 0: off
  float frequency_penalty = 0.0f;  // 0: off
  int penalty_last_n = 64;         // window of the history the penalties look at (-1: all)
  std::vector<std::pair<std::int32_t, float>> logit_bias;  // (token id, added to its logit)
  std::uint64_t seed = 0;

  bool greedy() const { return temperature <= 0.0f; }
  // Checks ranges (temperature finite, 0 < top_p <= 1, 0 <= min_p <= 1, penalty > 0, bias ids
  // inside the vocabulary).
  Status validate(std::int32_t n_vocab) const;
};

struct TokenProb {
  std::int32_t id;
  float p;
};

// A small, fast, portable PRNG (xoshiro256**), seeded through splitmix64.
class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0);
  std::uint64_t next();
  double uniform();  // [0, 1), 53 random bits

 private:
  std::uint64_t s_[4];
};

// Draws one token from `dist` (need not be normalised; must have positive mass) with `rng`.
std::int32_t draw_token(std::span<const TokenProb> dist, Rng& rng);

class Sampler {
 public:
  Sampler(SamplingParams params, std::int32_t n_vocab);

  const SamplingParams& params() const { return params_; }
  bool greedy() const { return params_.greedy(); }
  std::int32_t n_vocab() const { return n_vocab_; }

  // Steps 1-2 in place on a copy of the logits (row of n_vocab floats).
  void transform(std::span<float> logits, std::span<const std::int32_t> history) const;

  // Greedy: argmax of the transformed logits.
  std::int32_t argmax(std::span<const float> logits, std::span<const std::int32_t> history) const;

  // The sampling distribution (steps 1-5), sorted by decreasing probability, probabilities sum
  // to 1. For greedy params this is the one-hot distribution of argmax().
  void distribution(std::span<const float> logits, std::span<const std::int32_t> history,
                    std::vector<TokenProb>& out) const;

  // Draws the next token (greedy: argmax, no RNG use).
  std::int32_t sample(std::span<const float> logits, std::span<const std::int32_t> history);

  // Draws from an explicit distribution with this sampler's RNG (used by speculative decoding
  // for the residual distribution). `dist` need not be normalised; it must have positive mass.
  std::int32_t draw(std::span<const TokenProb> dist);

  Rng& rng() { return rng_; }

 private:
  SamplingParams params_;
  std::int32_t n_vocab_;
  Rng rng_;
  mutable std::vector<float> scratch_;
  mutable std::vector<TokenProb> dist_;
};

// Stop strings over streamed text. Feed the decoded text piece by piece; it says how much of the
// text so far can be shown (text that might be the start of a stop string is held back) and
// whether a stop string has appeared (the text is then cut just before it).
class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stop_strings = {});

  // Appends `piece`; returns true when a stop string now occurs in the text.
  bool push(std::string_view piece);
  // All text before the first stop string (everything when none matched).
  std::string_view text() const;
  // Bytes of text() that are safe to show now: with no match, the text minus any tail that is a
  // proper prefix of some stop string. After a match: all of text().
  std::size_t stable_bytes() const;
  bool matched() const { return matched_; }
  const std::vector<std::string>& stop_strings() const { return stops_; }

 private:
  std::vector<std::string> stops_;
  std::string text_;
  std::size_t cut_ = 0;
  std::size_t max_stop_ = 0;
  bool matched_ = false;
};

}  // namespace rapide::inference::engine
