// The cost-aware draft length (draft_cost.h) with injected pass costs and acceptance: no model,
// no clock, every decision deterministic.
#include "rapide/inference/engine/draft_cost.h"

#include <gtest/gtest.h>

#include <cmath>

namespace rapide::inference::engine {
namespace {

PassCostModel costs_from(std::initializer_list<double> ms) {
  PassCostModel c(32);
  int rows = 1;
  for (double m : ms) c.observe(rows++, m);
  return c;
}

// Feeds `n` verifications of `k` drafted tokens where every token is accepted with probability
// `a` (as the expected counts: accepted prefix lengths in proportion).
void teach(AcceptanceModel& m, int cls, int k, double a, int n) {
  for (int i = 0; i < n; ++i) {
    // Deterministic and evenly spread over time (a golden-ratio sequence): the accepted prefix
    // is >= j in a fraction a^j of the runs.
    int accepted = 0;
    double reach = 1.0;
    const double u = std::fmod(0.5 + 0.6180339887498949 * i, 1.0);
    while (accepted < k && u < reach * a) {
      reach *= a;
      ++accepted;
    }
    m.observe(cls, k, accepted);
  }
}

TEST(PassCostModel, MeasuredInterpolatedAndExtrapolated) {
  PassCostModel c(16, 0.5, 0.5);
  EXPECT_DOUBLE_EQ(c.estimate(1), 1.0);  // nothing measured: one-row passes as the unit
  EXPECT_DOUBLE_EQ(c.estimate(3), 2.0);  // 1 + 2 * prior 0.5
  c.observe(1, 0.1);
  EXPECT_DOUBLE_EQ(c.estimate(1), 0.1);
  EXPECT_DOUBLE_EQ(c.estimate(2), 0.15);  // optimistic marginal row: 0.5 one-row passes
  c.observe(5, 0.3);
  EXPECT_DOUBLE_EQ(c.estimate(3), 0.2);  // between 1 and 5
  EXPECT_DOUBLE_EQ(c.estimate(7), 0.4);  // past 5: 0.3 + 2 * 0.05
  c.observe(1, 0.2);                     // EWMA, alpha 0.5
  EXPECT_DOUBLE_EQ(c.estimate(1), 0.15);
  c.observe(1, 100.0);                   // an outlier is clipped to 4x the estimate
  EXPECT_DOUBLE_EQ(c.estimate(1), 0.15 + 0.5 * (0.6 - 0.15));
  EXPECT_EQ(c.samples(1), 3);
  EXPECT_FALSE(c.measured(2));
}

TEST(AcceptanceModel, PriorThenCountsPerClassAndPosition) {
  AcceptanceModel m({0.5, 0.8}, 8, 2.0, 1e9);
  EXPECT_DOUBLE_EQ(m.prob(0, 1), 0.5);
  EXPECT_DOUBLE_EQ(m.prob(1, 3), 0.8);  // unobserved positions follow the previous one
  m.observe(0, 4, 2);                   // positions 1, 2 accepted, 3 rejected, 4 unchecked
  EXPECT_DOUBLE_EQ(m.prob(0, 1), (1 + 2 * 0.5) / (1 + 2));
  const double a2 = (1 + 2 * m.prob(0, 1)) / 3;
  EXPECT_DOUBLE_EQ(m.prob(0, 2), a2);
  const double a3 = (0 + 2 * a2) / 3;
  EXPECT_DOUBLE_EQ(m.prob(0, 3), a3);
  EXPECT_DOUBLE_EQ(m.prob(0, 4), a3);  // no evidence at 4: the estimate of 3
  EXPECT_DOUBLE_EQ(m.expected_accepted(0, 3), m.prob(0, 1) + m.prob(0, 1) * a2 + m.prob(0, 1) * a2 * a3);
  EXPECT_DOUBLE_EQ(m.prob(1, 1), 0.8);  // other classes untouched
  EXPECT_DOUBLE_EQ(m.prob(7, 1), 0.8);  // classes clamp to the last
}

TEST(AcceptanceModel, RecentOutcomesWeighMost) {
  AcceptanceModel m({0.5}, 4, 2.0, 16.0);
  teach(m, 0, 1, 1.0, 200);
  EXPECT_GT(m.prob(0, 1), 0.9);  // the prior's 2 pseudo-observations against ~16 decayed ones
  teach(m, 0, 1, 0.0, 64);
  EXPECT_LT(m.prob(0, 1), 0.1);
}

TEST(ChooseDraftLength, RowsAsExpensiveAsPassesNeverDraft) {
  // cost(r) = r: a draft can at best break even, so plain decoding wins even at 90% acceptance,
  // and exploration never fires (hopeless).
  const PassCostModel c = costs_from({1, 2, 3, 4, 5, 6, 7, 8, 9});
  AcceptanceModel a({0.9}, 8);
  teach(a, 0, 8, 0.9, 50);
  for (int i = 0; i < 100; ++i) {
    const DraftChoice d = choose_draft_length(c, a, 0, 8, 0, 0.0);
    EXPECT_EQ(d.k, 0);
    EXPECT_TRUE(d.hopeless);
    EXPECT_FALSE(d.explored);
  }
}

TEST(ChooseDraftLength, CheapRowsAndHighAcceptanceDraftLong) {
  // Memory-bound shape: extra rows almost free.
  const PassCostModel c = costs_from({1.0, 1.05, 1.1, 1.15, 1.2, 1.25, 1.3, 1.35, 1.4});
  AcceptanceModel a({0.5}, 8);
  teach(a, 0, 8, 0.9, 100);
  const DraftChoice d = choose_draft_length(c, a, 0, 8, 0, 0.0);
  EXPECT_EQ(d.k, 8);
  EXPECT_GT(d.gain, 3.0);
  EXPECT_NEAR(d.expected_tokens, 1.0 + a.expected_accepted(0, 8), 1e-12);
}

TEST(ChooseDraftLength, StoriesShapeDraftsOnlyForConfidentClasses) {
  // stories260K-like costs (2 rows = 1.6 passes) and acceptance per match length: 28% after a
  // one-token match, 81% after an 8-token match.
  const PassCostModel c = costs_from({1.0, 1.6, 2.1, 2.7, 3.3, 3.9, 4.5, 5.1, 5.7});
  AcceptanceModel a({0.5, 0.5, 0.67, 0.75, 0.8, 0.83, 0.86, 0.88, 0.89}, 8);
  teach(a, 1, 4, 0.28, 200);
  teach(a, 8, 4, 0.81, 200);
  EXPECT_EQ(choose_draft_length(c, a, 1, 8, 0, 0.0).k, 0);
  const DraftChoice d = choose_draft_length(c, a, 8, 8, 0, 0.0);
  EXPECT_GE(d.k, 1);
  EXPECT_LE(d.k, 4);
  EXPECT_GT(d.gain, 1.0);
  // Best k by brute force over the same formula.
  double best = 1.0 / c.estimate(1);
  int best_k = 0;
  for (int k = 1; k <= 8; ++k) {
    const double r = (1.0 + a.expected_accepted(8, k)) / c.estimate(k + 1);
    if (r > best * 1.01) {
      best = r;
      best_k = k;
    }
  }
  EXPECT_EQ(d.k, best_k);
}

TEST(ChooseDraftLength, DraftModelTimeCountsAgainstTheDraft) {
  const PassCostModel c = costs_from({1.0, 1.1, 1.2, 1.3, 1.4});
  AcceptanceModel a({0.5}, 8);
  teach(a, 0, 4, 0.9, 100);
  EXPECT_GE(choose_draft_length(c, a, 0, 4, 0, 0.05).k, 3);  // a draft model 20x cheaper than the target
  const DraftChoice slow = choose_draft_length(c, a, 0, 4, 0, 1.0);  // as slow as the target
  EXPECT_EQ(slow.k, 0);
  EXPECT_TRUE(slow.hopeless);
}

TEST(ChooseDraftLength, ExploresOneTokenAfterAStreakOfPlainPasses) {
  const PassCostModel c = costs_from({1.0, 1.6, 2.2});
  AcceptanceModel a({0.2}, 4);
  teach(a, 0, 2, 0.2, 50);
  DraftCostOptions o;
  o.explore_every = 8;
  int explored = 0;
  for (int i = 1; i <= 32; ++i) {
    const DraftChoice d = choose_draft_length(c, a, 0, 2, 0, 0.0, o);
    EXPECT_FALSE(d.hopeless);
    if (d.explored) {
      ++explored;
      EXPECT_EQ(d.k, 1);
      EXPECT_EQ(i % 8, 0);
    } else {
      EXPECT_EQ(d.k, 0);
    }
  }
  EXPECT_EQ(explored, 4);
  // Nothing to draft: no decision, no exploration count.
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(choose_draft_length(c, a, 0, 0, 0, 0.0, o).explored);
}

TEST(ChooseDraftLength, OtherSequencesRowsChangeTheMarginalCost) {
  // Rows 1..4 cost the same (memory-bound), beyond that each row costs a full pass: alone, a
  // 3-token draft is free; behind 4 rows of other sequences it is not.
  const PassCostModel c = costs_from({1, 1, 1, 1, 2, 3, 4, 5});
  AcceptanceModel a({0.5}, 8);
  teach(a, 0, 3, 0.6, 100);
  EXPECT_EQ(choose_draft_length(c, a, 0, 3, 0, 0.0).k, 3);
  EXPECT_EQ(choose_draft_length(c, a, 0, 3, 4, 0.0).k, 0);
}

}  // namespace
}  // namespace rapide::inference::engine
