// Speculative decoding building blocks that need no model: the n-gram (prompt-lookup) drafter,
// the adaptive draft length, and the acceptance rule used when k drafted tokens are verified by
// one forward pass of k+1 rows.
//
// Verification (see engine.cpp for the loop): the target sequence's KV holds every token but the
// last sampled one ("pending"). One forward of [pending, d1..dk] returns k+1 rows; row i is the
// target's distribution after d1..di. Row by row, the drafted token d(i+1) is accepted or a
// replacement is drawn; the first replacement ends the step, and when all k are accepted row k
// gives a bonus token. The KV is then truncated to the accepted length (rollback).
//
// The acceptance rule (Leviathan et al. 2023, Chen et al. 2023):
//   greedy      accept d iff d == argmax p; the replacement is argmax p. The output equals plain
//               greedy decoding token for token.
//   sampled     accept d with probability min(1, p(d) / q(d)); on rejection draw from the residual
//               norm(max(0, p - q)). q is the drafter's distribution: for a deterministic drafter
//               (n-gram) q is one-hot at d, which gives accept with probability p(d) and a residual
//               of p with d removed. The output then has exactly the target's distribution.
#pragma once

#include "rapide/inference/engine/sampling.h"

#include <cstdint>
#include <span>
#include <vector>

namespace rapide::inference::engine {

// Draft length that follows the acceptance: grows while whole drafts are accepted, shrinks to
// just past what was accepted on a rejection.
class AdaptiveDraftLength {
 public:
  AdaptiveDraftLength(int min_len, int max_len, int initial);
  int value() const { return k_; }
  void update(int drafted, int accepted);
  int max_len() const { return max_; }

 private:
  int min_;
  int max_;
  int k_;
};

struct NgramOptions {
  int min_ngram = 1;     // shortest suffix that may be matched
  int max_ngram = 8;     // longest suffix compared (longer matches win)
  int max_draft = 16;    // cap on the draft length
  int min_draft = 4;
  int initial_draft = 8;
  // Matches shorter than this many tokens draft at most `short_match_draft` tokens: a one-token
  // match is weak evidence.
  int confident_ngram = 3;
  int short_match_draft = 4;
  // Matches at least this long draft up to max_draft whatever the adaptive length says: a long
  // copied run (unchanged code after an edit) usually goes on (0: off).
  int long_match_ngram = 4;
};

// Prompt lookup: find the most recent earlier occurrence of the longest suffix (up to max_ngram
// tokens) of the token sequence, searching the sequence itself first and then the extra sources
// (document text, other context), and propose the tokens that followed it.
//
// Thread-safety: one drafter per generation; not shared.
class NgramDrafter {
 public:
  explicit NgramDrafter(NgramOptions options = {});

  // Token sequences searched after the sequence itself (copied).
  void set_sources(std::vector<std::vector<std::int32_t>> sources);

  // Up to min(limit, adaptive length) tokens to continue `tokens`; empty when nothing matches.
  std::vector<std::int32_t> draft(std::span<const std::int32_t> tokens, int limit) const;
  // Reports the outcome of verifying the last draft (adapts the length).
  void update(int drafted, int accepted) { length_.update(drafted, accepted); }
  int draft_length() const { return length_.value(); }
  const NgramOptions& options() const { return options_; }

  struct Match {
    int n = 0;           // matched suffix length (0: none)
    int source = -1;     // -1: the sequence itself, else index into the sources
    std::size_t continuation = 0;  // index of the first proposed token in that sequence
  };
  Match find_match(std::span<const std::int32_t> tokens) const;
  // Tokens available after a match (in `tokens` or its source), and the first `len` of them.
  std::size_t available(std::span<const std::int32_t> tokens, const Match& m) const;
  std::vector<std::int32_t> continuation(std::span<const std::int32_t> tokens, const Match& m, int len) const;

 private:
  NgramOptions options_;
  std::vector<std::vector<std::int32_t>> sources_;
  AdaptiveDraftLength length_;
};

struct AcceptDecision {
  bool accepted = false;
  std::int32_t token = -1;  // the drafted token when accepted, else the replacement
};

// One position of verification. `p`: the target's sampling distribution at this position
// (Sampler::distribution); `q`: the drafter's distribution there, empty for a deterministic
// drafter; `drafted`: the proposed token. Greedy samplers compare with argmax (p is one-hot).
AcceptDecision accept_or_replace(std::span<const TokenProb> p, std::span<const TokenProb> q,
                                 std::int32_t drafted, Rng& rng);

// Statistics of a speculative generation.
struct SpeculationStats {
  std::int64_t forward_passes = 0;   // target forward passes during decoding (not prefill)
  std::int64_t drafted = 0;          // drafted tokens sent to verification
  std::int64_t accepted = 0;         // drafted tokens accepted
  std::int64_t verifications = 0;    // forward passes that verified at least one drafted token
  std::int64_t draft_forward_passes = 0;  // draft-model forward passes (draft mode only)
  // Cost policy (draft_cost.h): passes where a draft was possible but a plain pass was expected
  // to be faster, and drafts of one token made only to keep the estimates measured.
  std::int64_t skipped_drafts = 0;
  std::int64_t explored_drafts = 0;
  double acceptance_rate() const { return drafted ? static_cast<double>(accepted) / static_cast<double>(drafted) : 0.0; }
  double mean_accepted() const {
    return verifications ? static_cast<double>(accepted) / static_cast<double>(verifications) : 0.0;
  }
};

}  // namespace rapide::inference::engine
