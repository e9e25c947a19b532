// Sampler, RNG and stop-string tests: each step of the pipeline checked against a hand-computed
// expectation, and the sampled frequencies checked against the distribution.
#include "rapide/inference/engine/sampling.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <numeric>

namespace rapide::inference::engine {
namespace {

std::vector<float> logits_of(std::initializer_list<float> v) { return std::vector<float>(v); }

double prob_of(const std::vector<TokenProb>& d, std::int32_t id) {
  for (const auto& tp : d)
    if (tp.id == id) return tp.p;
  return 0.0;
}

TEST(Rng, SameSeedSameStreamDifferentSeedDifferentStream) {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) {
    const auto x = a.next();
    EXPECT_EQ(x, b.next());
  }
  Rng a2(42);
  int same = 0;
  for (int i = 0; i < 100; ++i) same += a2.next() == c.next();
  EXPECT_EQ(same, 0);
  Rng u(7);
  double mean = 0;
  for (int i = 0; i < 100000; ++i) {
    const double x = u.uniform();
    ASSERT_GE(x, 0.0);
    ASSERT_LT(x, 1.0);
    mean += x;
  }
  EXPECT_NEAR(mean / 100000, 0.5, 0.01);
}

TEST(Sampler, GreedyIsArgmaxLowestIdOnTies) {
  Sampler s({}, 5);
  EXPECT_EQ(s.sample(logits_of({0.1f, 3.0f, -1.0f, 3.0f, 2.9f}), {}), 1);
  EXPECT_EQ(s.sample(logits_of({-5, -4, -3, -2, -1}), {}), 4);
  std::vector<TokenProb> d;
  s.distribution(logits_of({0, 0, 9, 0, 0}), {}, d);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].id, 2);
  EXPECT_FLOAT_EQ(d[0].p, 1.0f);
}

TEST(Sampler, GreedyIgnoresNaN) {
  Sampler s({}, 3);
  EXPECT_EQ(s.sample(logits_of({NAN, 1.0f, 0.5f}), {}), 1);
}

TEST(Sampler, LogitBiasBansAndBoosts) {
  SamplingParams p;
  p.logit_bias = {{1, -INFINITY}, {3, 10.0f}};
  Sampler s(p, 4);
  EXPECT_EQ(s.sample(logits_of({0, 5, 0, 0}), {}), 3);
  p.logit_bias = {{1, -INFINITY}};
  Sampler s2(p, 4);
  EXPECT_EQ(s2.sample(logits_of({0, 5, 1, 0}), {}), 2);
}

TEST(Sampler, RepetitionPenaltyDividesPositiveMultipliesNegative) {
  SamplingParams p;
  p.repetition_penalty = 2.0f;
  Sampler s(p, 4);
  std::vector<float> l = logits_of({4, -1, 3, 1});
  const std::vector<std::int32_t> hist = {0, 1, 0};
  s.transform(l, hist);
  EXPECT_FLOAT_EQ(l[0], 2.0f);   // 4 / 2, once even though it occurs twice
  EXPECT_FLOAT_EQ(l[1], -2.0f);  // -1 * 2
  EXPECT_FLOAT_EQ(l[2], 3.0f);
  EXPECT_FLOAT_EQ(l[3], 1.0f);
  EXPECT_EQ(s.sample(logits_of({4, -1, 3, 1}), hist), 2);  // the penalty flips the argmax
}

TEST(Sampler, PresenceAndFrequencyPenalties) {
  SamplingParams p;
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.25f;
  Sampler s(p, 3);
  std::vector<float> l = logits_of({1, 1, 1});
  const std::vector<std::int32_t> hist = {0, 0, 0, 2};
  s.transform(l, hist);
  EXPECT_FLOAT_EQ(l[0], 1.0f - 0.5f - 3 * 0.25f);
  EXPECT_FLOAT_EQ(l[1], 1.0f);
  EXPECT_FLOAT_EQ(l[2], 1.0f - 0.5f - 0.25f);
}

TEST(Sampler, PenaltyWindowOnlySeesLastN) {
  SamplingParams p;
  p.repetition_penalty = 2.0f;
  p.penalty_last_n = 2;
  Sampler s(p, 3);
  std::vector<float> l = logits_of({2, 2, 2});
  const std::vector<std::int32_t> hist = {0, 1, 2};
  s.transform(l, hist);
  EXPECT_FLOAT_EQ(l[0], 2.0f);  // outside the window
  EXPECT_FLOAT_EQ(l[1], 1.0f);
  EXPECT_FLOAT_EQ(l[2], 1.0f);
}

TEST(Sampler, TemperatureDistributionIsSoftmaxOverT) {
  SamplingParams p;
  p.temperature = 0.5f;
  Sampler s(p, 3);
  std::vector<TokenProb> d;
  s.distribution(logits_of({1, 2, 0}), {}, d);
  ASSERT_EQ(d.size(), 3u);
  const double z = std::exp(2.0) + std::exp(4.0) + std::exp(0.0);
  EXPECT_NEAR(prob_of(d, 0), std::exp(2.0) / z, 1e-6);
  EXPECT_NEAR(prob_of(d, 1), std::exp(4.0) / z, 1e-6);
  EXPECT_NEAR(prob_of(d, 2), 1.0 / z, 1e-6);
  EXPECT_EQ(d[0].id, 1);  // sorted by probability
}

TEST(Sampler, TopKKeepsKMostLikely) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 2;
  Sampler s(p, 5);
  std::vector<TokenProb> d;
  s.distribution(logits_of({1, 5, 3, 4, 2}), {}, d);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].id, 1);
  EXPECT_EQ(d[1].id, 3);
  EXPECT_NEAR(d[0].p, std::exp(5.0) / (std::exp(5.0) + std::exp(4.0)), 1e-6);
}

TEST(Sampler, TopPKeepsSmallestPrefixReachingP) {
  SamplingParams p;
  p.temperature = 1.0f;
  // probabilities 0.5, 0.3, 0.2 (logits = log p)
  std::vector<float> l = {std::log(0.2f), std::log(0.5f), std::log(0.3f)};
  std::vector<TokenProb> d;
  p.top_p = 0.5f;
  Sampler(p, 3).distribution(l, {}, d);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].id, 1);
  p.top_p = 0.75f;
  Sampler(p, 3).distribution(l, {}, d);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_NEAR(prob_of(d, 1), 0.5 / 0.8, 1e-6);
  EXPECT_NEAR(prob_of(d, 2), 0.3 / 0.8, 1e-6);
  p.top_p = 0.81f;
  Sampler(p, 3).distribution(l, {}, d);
  EXPECT_EQ(d.size(), 3u);
}

TEST(Sampler, MinPIsRelativeToTheMax) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.min_p = 0.5f;
  std::vector<float> l = {std::log(0.4f), std::log(0.25f), std::log(0.19f), std::log(0.16f)};
  std::vector<TokenProb> d;
  Sampler(p, 4).distribution(l, {}, d);
  ASSERT_EQ(d.size(), 2u);  // threshold 0.2: 0.25 stays, 0.19 and 0.16 go
  EXPECT_EQ(d[0].id, 0);
  EXPECT_EQ(d[1].id, 1);
}

TEST(Sampler, TemperatureAppliesAfterTheFilters) {
  // top-p is computed on the T=1 distribution, the survivors are then sharpened.
  SamplingParams p;
  p.temperature = 0.25f;
  p.top_p = 0.75f;
  std::vector<float> l = {std::log(0.2f), std::log(0.5f), std::log(0.3f)};
  std::vector<TokenProb> d;
  Sampler(p, 3).distribution(l, {}, d);
  ASSERT_EQ(d.size(), 2u);
  const double a = std::pow(0.5, 4), b = std::pow(0.3, 4);
  EXPECT_NEAR(prob_of(d, 1), a / (a + b), 1e-5);
}

TEST(Sampler, SampledFrequenciesMatchTheDistribution) {
  SamplingParams p;
  p.temperature = 0.8f;
  p.seed = 1234;
  Sampler s(p, 4);
  const std::vector<float> l = {0.0f, 1.0f, 0.5f, -0.5f};
  std::vector<TokenProb> d;
  s.distribution(l, {}, d);
  std::vector<int> counts(4, 0);
  const int n = 200000;
  for (int i = 0; i < n; ++i) ++counts[static_cast<std::size_t>(s.sample(l, {}))];
  double chi2 = 0;
  for (const auto& tp : d) {
    const double e = tp.p * n;
    const double o = counts[static_cast<std::size_t>(tp.id)];
    chi2 += (o - e) * (o - e) / e;
  }
  EXPECT_LT(chi2, 16.27);  // 3 degrees of freedom, p = 0.001
}

TEST(Sampler, SameSeedSameTokens) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 99;
  Sampler a(p, 6), b(p, 6);
  const std::vector<float> l = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
  for (int i = 0; i < 200; ++i) ASSERT_EQ(a.sample(l, {}), b.sample(l, {}));
}

TEST(Sampler, AllBannedFallsBackToRawArgmax) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.logit_bias = {{0, -INFINITY}, {1, -INFINITY}};
  Sampler s(p, 2);
  const auto t = s.sample(logits_of({1, 2}), {});
  EXPECT_EQ(t, 1);
}

TEST(SamplingParams, ValidateRejectsBadValues) {
  SamplingParams p;
  EXPECT_TRUE(p.validate(10).ok());
  p.top_p = 0;
  EXPECT_FALSE(p.validate(10).ok());
  p = {};
  p.min_p = 2;
  EXPECT_FALSE(p.validate(10).ok());
  p = {};
  p.repetition_penalty = 0;
  EXPECT_FALSE(p.validate(10).ok());
  p = {};
  p.logit_bias = {{10, 1.0f}};
  const Status st = p.validate(10);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("token 10"), std::string::npos) << st.message();
  p = {};
  p.temperature = INFINITY;
  EXPECT_FALSE(p.validate(10).ok());
}

TEST(StopMatcher, CutsAtTheFirstStopStringAcrossPieces) {
  StopMatcher m({"\n\n", "END"});
  EXPECT_FALSE(m.push("int x"));
  EXPECT_EQ(m.stable_bytes(), 5u);
  EXPECT_FALSE(m.push(" = 1;\n"));
  EXPECT_EQ(m.stable_bytes(), 10u);  // the trailing '\n' may start "\n\n": held back
  EXPECT_TRUE(m.push("\nmore"));
  EXPECT_TRUE(m.matched());
  EXPECT_EQ(m.text(), "int x = 1;");
  EXPECT_EQ(m.stable_bytes(), m.text().size());
  EXPECT_TRUE(m.push("anything"));  // stays matched
  EXPECT_EQ(m.text(), "int x = 1;");
}

TEST(StopMatcher, StopStringSplitOverManyPiecesAndEarliestWins) {
  StopMatcher m({"</code>", "de>"});
  for (const char* piece : {"a</", "c", "o", "d"}) EXPECT_FALSE(m.push(piece));
  EXPECT_EQ(m.stable_bytes(), 1u);
  EXPECT_TRUE(m.push("e>tail"));
  EXPECT_EQ(m.text(), "a");
}

TEST(StopMatcher, NoStopStringsShowsEverything) {
  StopMatcher m;
  EXPECT_FALSE(m.push("abc"));
  EXPECT_EQ(m.stable_bytes(), 3u);
  EXPECT_EQ(m.text(), "abc");
}

}  // namespace
}  // namespace rapide::inference::engine
