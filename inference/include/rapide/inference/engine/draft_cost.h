// Cost-aware draft length: draft k tokens only when the expected accepted tokens per unit of time
// beat plain decoding. Pure bookkeeping, no model and no clock: the engine feeds it measured pass
// times and verification outcomes, so its decisions can be tested with injected figures.
//
// Why: a verification pass of k+1 rows is not free. On a memory-bound model (1.5B on a CPU) four
// rows cost ~1.3 one-row passes and almost any draft pays; on a compute-bound one (stories260K,
// weights in L2) two rows cost ~1.6 passes, and a draft that is accepted less than ~60% of the
// time loses. The same drafter is right far more often after a long suffix match than after a
// one-token match, so acceptance is estimated per class (n-gram: the match length).
//
// The model:
//   cost(r)      EWMA of the wall time of a target pass of r rows (PassCostModel). Row counts never
//                measured are interpolated between measured ones, or extrapolated with an
//                optimistic marginal row cost so that they get tried (and then measured).
//   a(c, i)      probability that drafted token i (1-based) of a draft from class c is accepted,
//                given tokens 1..i-1 were (AcceptanceModel): accepted / reached counts, decayed so
//                recent outcomes weigh most, with a prior of `prior_weight` pseudo-observations
//                (position 1: the class's prior; position i > 1: the estimate of position i-1).
//   tokens(k)    1 + sum_{i=1..k} prod_{j<=i} a(c, j)      (the +1: the target's own token)
//   time(k)      cost(base + 1 + k) + k * draft_token_ms  (base: rows of other sequences in the
//                same pass; draft_token_ms: draft-model time per drafted token, 0 for n-gram)
//   choice       k maximising (base + tokens(k)) / time(k) over 0..k_max (the pass's tokens per
//                ms, the other sequences' rows counting one token each); a k > 0 must beat the best
//                smaller one by `margin` (noise). When plain decoding wins `explore_every` times
//                in a row for a class, one token is drafted anyway so that a(c, 1) and cost(2)
//                stay measured (acceptance and costs drift with the text and the machine's load),
//                unless no k could pay even if every drafted token were accepted ("hopeless":
//                a draft model as slow as the target; exploring it would also make the draft
//                model catch up on every token it skipped).
//
// Greedy output does not depend on any of this (every k gives the plain greedy tokens); only the
// speed does.
//
// Thread-safety: none; the engine's worker owns one instance.
#pragma once

#include <cstdint>
#include <vector>

namespace rapide::inference::engine {

class PassCostModel {
 public:
  // `max_rows`: row counts tracked (larger ones are extrapolated); `alpha`: EWMA weight of a new
  // measurement; `prior_row_cost`: cost of an unmeasured extra row, in one-row passes.
  explicit PassCostModel(int max_rows = 64, double alpha = 0.1, double prior_row_cost = 0.5);

  // One target pass of `rows` rows took `ms`. A sample more than 4x the current estimate is
  // clipped to 4x (a preempted pass says little about the next one).
  void observe(int rows, double ms);
  // Estimated wall time of a pass of `rows` rows (ms; in one-row passes while nothing is measured).
  double estimate(int rows) const;
  bool measured(int rows) const;
  std::int64_t samples(int rows) const;

 private:
  int max_rows_;
  double alpha_;
  double prior_row_cost_;
  std::vector<double> ms_;         // [max_rows + 1]
  std::vector<std::int64_t> n_;    // samples per row count
};

class AcceptanceModel {
 public:
  // `prior_first[c]`: prior acceptance of the first drafted token of class c (its size is the
  // number of classes); `max_pos`: positions tracked (later ones reuse the last estimate);
  // `horizon`: counts decay by (1 - 1/horizon) per observation of a position.
  AcceptanceModel(std::vector<double> prior_first, int max_pos, double prior_weight = 2.0, double horizon = 64.0);

  int n_classes() const { return static_cast<int>(prior_.size()); }
  // A verification of `drafted` tokens of class `cls` accepted the first `accepted` of them.
  void observe(int cls, int drafted, int accepted);
  // a(cls, pos), pos >= 1.
  double prob(int cls, int pos) const;
  // sum_{i=1..k} prod_{j<=i} a(cls, j): expected accepted drafted tokens of a k-token draft.
  double expected_accepted(int cls, int k) const;

  // Consecutive decisions for plain decoding in class `cls` (exploration counter).
  int& skipped(int cls) { return skipped_[static_cast<std::size_t>(clamp_class(cls))]; }
  int clamp_class(int cls) const;

 private:
  std::vector<double> prior_;
  int max_pos_;
  double prior_weight_;
  double decay_;
  std::vector<double> reached_;   // [class][pos]: drafts whose token pos was checked
  std::vector<double> accepted_;  // [class][pos]: ... and accepted
  std::vector<int> skipped_;
};

struct DraftChoice {
  int k = 0;                     // tokens to draft (0: a plain pass)
  bool explored = false;         // k = 1 forced by exploration
  bool hopeless = false;         // no k would pay even with every drafted token accepted
  double expected_tokens = 1.0;  // tokens(k)
  double ms = 0;                 // time(k)
  double gain = 1.0;             // (tokens(k) / time(k)) / (1 / time(0))
};

struct DraftCostOptions {
  double margin = 0.01;   // a longer draft must be this much better (relative)
  int explore_every = 32;
};

// The choice for one step (see the header comment). `k_max` <= 0 gives k = 0 without touching
// the exploration counter (nothing could be drafted).
DraftChoice choose_draft_length(const PassCostModel& costs, AcceptanceModel& acceptance, int cls, int k_max,
                                int base_rows, double draft_token_ms, const DraftCostOptions& options = {});

// What an engine keeps between requests (its costs and acceptance are properties of the model,
// the machine and the kind of text, not of one request).
struct DraftCostState {
  DraftCostState();
  PassCostModel passes;
  AcceptanceModel ngram;   // class = n-gram match length (1..8)
  AcceptanceModel draft;   // draft model: one class (0)
  // The draft model's own passes by row count. A step's drafting time is taken as k one-row
  // draft passes: in steady state the first draft pass also feeds the previous step's accepted
  // tokens, which it does in one multi-row pass.
  PassCostModel draft_passes;
  DraftCostOptions options;
  // 0 until the draft model ran once (optimistic, so that it gets measured).
  double draft_token_ms() const { return any_draft_pass_ ? draft_passes.estimate(1) : 0.0; }
  void observe_draft_pass(int rows, double ms) {
    draft_passes.observe(rows, ms);
    any_draft_pass_ = true;
  }

 private:
  bool any_draft_pass_ = false;
};

}  // namespace rapide::inference::engine
