// N-gram drafter, adaptive length and the acceptance rule. The rejection rule is checked
// statistically: accepting/replacing a drafted token must reproduce the target distribution.
#include "rapide/inference/engine/speculative.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

namespace rapide::inference::engine {
namespace {

using Tokens = std::vector<std::int32_t>;

TEST(AdaptiveDraftLength, GrowsOnFullAcceptanceShrinksOnRejection) {
  AdaptiveDraftLength k(1, 16, 4);
  EXPECT_EQ(k.value(), 4);
  k.update(4, 4);
  EXPECT_EQ(k.value(), 6);
  k.update(6, 6);
  EXPECT_EQ(k.value(), 9);
  k.update(9, 9);
  k.update(13, 13);
  EXPECT_EQ(k.value(), 16);
  k.update(16, 16);
  EXPECT_EQ(k.value(), 16);  // capped
  k.update(16, 0);
  EXPECT_EQ(k.value(), 8);   // halves at most
  k.update(8, 6);
  EXPECT_EQ(k.value(), 7);   // accepted + 1
  k.update(3, 3);            // a short draft fully accepted says nothing about the length
  EXPECT_EQ(k.value(), 7);
  k.update(0, 0);
  EXPECT_EQ(k.value(), 7);
}

TEST(NgramDrafter, ProposesWhatFollowedTheLongestRecentMatch) {
  NgramOptions o;
  o.initial_draft = 4;
  NgramDrafter d(o);
  //            0  1  2  3  4  5  6  7  8  9 10
  Tokens t = {1, 2, 3, 4, 5, 9, 2, 3, 7, 1, 2, 3};
  // suffix "1 2 3" occurs at 0..2 (followed by 4 5 9 2); "2 3" also at 6..7 (followed by 7) but
  // the longer match wins.
  const auto m = d.find_match(t);
  EXPECT_EQ(m.n, 3);
  EXPECT_EQ(m.source, -1);
  EXPECT_EQ(m.continuation, 3u);
  EXPECT_EQ(d.draft(t, 16), (Tokens{4, 5, 9, 2}));
  EXPECT_EQ(d.draft(t, 2), (Tokens{4, 5}));
}

TEST(NgramDrafter, MostRecentOccurrenceWinsOnEqualLength) {
  NgramDrafter d;
  Tokens t = {5, 6, 1, 5, 6, 2, 5, 6};
  const auto m = d.find_match(t);
  EXPECT_EQ(m.n, 2);
  EXPECT_EQ(m.continuation, 5u);
}

TEST(NgramDrafter, SearchesSourcesWhenTheSequenceHasNoMatch) {
  NgramOptions o;
  o.initial_draft = 8;
  NgramDrafter d(o);
  d.set_sources({{10, 11, 12}, {7, 8, 9, 20, 21, 22, 23}});
  Tokens t = {1, 7, 8, 9};
  const auto m = d.find_match(t);
  EXPECT_EQ(m.source, 1);
  EXPECT_EQ(m.n, 3);
  EXPECT_EQ(d.draft(t, 16), (Tokens{20, 21, 22, 23}));
}

TEST(NgramDrafter, ShortMatchesDraftLittleAndNoMatchDraftsNothing) {
  NgramOptions o;
  o.initial_draft = 8;
  o.short_match_draft = 2;
  NgramDrafter d(o);
  Tokens t = {3, 1, 2, 3, 4, 5, 6, 9, 3};
  EXPECT_EQ(d.draft(t, 16), (Tokens{4, 5}));  // 1-token match "3" (the most recent one, at 3)
  EXPECT_TRUE(d.draft(Tokens{1, 2, 3}, 16).empty());
  EXPECT_TRUE(d.draft(Tokens{}, 16).empty());
  EXPECT_TRUE(d.draft(Tokens{7}, 16).empty());
}

TEST(NgramDrafter, RepeatingPatternDraftsThroughTheOverlap) {
  NgramOptions o;
  o.initial_draft = 6;
  NgramDrafter d(o);
  Tokens t = {1, 2, 1, 2, 1, 2};
  EXPECT_EQ(d.draft(t, 16), (Tokens{1, 2}));  // continuation runs to the end of the sequence
}

TEST(AcceptRule, GreedyAcceptsOnlyTheArgmax) {
  Rng rng(1);
  const std::vector<TokenProb> p = {{7, 1.0f}};
  auto a = accept_or_replace(p, {}, 7, rng);
  EXPECT_TRUE(a.accepted);
  EXPECT_EQ(a.token, 7);
  a = accept_or_replace(p, {}, 3, rng);
  EXPECT_FALSE(a.accepted);
  EXPECT_EQ(a.token, 7);
}

// Emits one token per trial: the drafted token when accepted, else the replacement. The
// frequencies must follow p whatever the draft distribution was.
void expect_target_law(const std::vector<TokenProb>& p, const std::vector<TokenProb>& q, bool deterministic_draft) {
  Rng rng(2024);
  const int n = 200000;
  std::map<std::int32_t, int> counts;
  for (int i = 0; i < n; ++i) {
    std::int32_t drafted;
    if (deterministic_draft) {
      drafted = q[0].id;
    } else {
      drafted = draw_token(q, rng);
    }
    const auto a = accept_or_replace(p, deterministic_draft ? std::span<const TokenProb>{} : std::span<const TokenProb>(q),
                                     drafted, rng);
    ++counts[a.token];
  }
  double chi2 = 0;
  for (const auto& tp : p) {
    const double e = tp.p * n;
    const double o = counts[tp.id];
    chi2 += (o - e) * (o - e) / e;
  }
  for (const auto& [id, c] : counts) {
    bool in_p = false;
    for (const auto& tp : p) in_p |= tp.id == id;
    EXPECT_TRUE(in_p) << "token " << id << " outside the target's support came out " << c << " times";
  }
  EXPECT_LT(chi2, 18.47) << "chi-square over " << p.size() - 1 << " degrees of freedom (p = 0.001 bound for 4)";
}

TEST(AcceptRule, RejectionSamplingReproducesTheTargetWithADraftDistribution) {
  const std::vector<TokenProb> p = {{0, 0.1f}, {1, 0.4f}, {2, 0.2f}, {3, 0.25f}, {4, 0.05f}};
  const std::vector<TokenProb> q = {{0, 0.5f}, {1, 0.1f}, {2, 0.3f}, {5, 0.1f}};  // 5 is outside p
  expect_target_law(p, q, false);
}

TEST(AcceptRule, RejectionSamplingReproducesTheTargetWithADeterministicDraft) {
  const std::vector<TokenProb> p = {{0, 0.1f}, {1, 0.4f}, {2, 0.2f}, {3, 0.25f}, {4, 0.05f}};
  expect_target_law(p, {{2, 1.0f}}, true);
  expect_target_law(p, {{9, 1.0f}}, true);  // a draft the target never produces
}

}  // namespace
}  // namespace rapide::inference::engine
