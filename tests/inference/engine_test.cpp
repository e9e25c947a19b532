// Engine tests on the real stories260K model and variants of it (engine_test_models.h):
// speculative greedy == plain greedy, the sampled law under draft speculation (chi-square),
// prefix reuse (same logits as a cold run, only the tail prefilled), cancellation, priorities,
// batching, stop rules and errors.
#include "rapide/inference/engine/engine.h"
#include "rapide/inference/make_model.h"

#include "engine_test_models.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <thread>

namespace rapide::inference::engine {
namespace {

using testing::LoadedModel;

struct Fixture {
  testing::TempDir dir;
  std::filesystem::path stories;
  std::filesystem::path long_ctx;   // stories260K with a 4096-token context
  std::filesystem::path perturbed;  // same vocabulary, output head perturbed (a poor draft)
  std::string error;
};

Fixture& fixture() {
  static Fixture x;
  static bool made = false;
  if (!made) {
    made = true;
    x.stories = testing::shared_file("models/stories260K.gguf");
    if (!x.stories.empty()) {
      x.long_ctx = x.dir.path() / "stories-4k.gguf";
      x.perturbed = x.dir.path() / "stories-perturbed.gguf";
      x.error = testing::write_variant(x.stories, x.long_ctx, 4096, 1.0f, 0.0f, 0);
      if (x.error.empty()) x.error = testing::write_variant(x.stories, x.perturbed, 512, 0.8f, 0.08f, 7);
    }
  }
  return x;
}

#define REQUIRE_MODELS()                                                                    \
  RAPIDE_REQUIRE_SHARED(stories_path_, "models/stories260K.gguf");                          \
  ASSERT_TRUE(fixture().error.empty()) << fixture().error

std::unique_ptr<Engine> make_engine(const std::filesystem::path& target, const std::filesystem::path& draft = {},
                                    Engine::Options opts = {}) {
  LoadedModel t;
  std::string err = testing::load_model(target, t);
  EXPECT_TRUE(err.empty()) << err;
  if (!err.empty()) return nullptr;
  std::unique_ptr<Model> d;
  if (!draft.empty()) {
    LoadedModel dm;
    err = testing::load_model(draft, dm);
    EXPECT_TRUE(err.empty()) << err;
    d = std::move(dm.model);
  }
  auto e = Engine::create(std::move(t.model), t.tokenizer, opts, std::move(d));
  EXPECT_TRUE(e) << e.message();
  return e ? std::move(*e) : nullptr;
}

const std::vector<std::string>& prompts() {
  static const std::vector<std::string> p = {
      "Once upon a time",
      "Lily and Ben went to the park. Lily and Ben",
      "The cat sat on the mat. The cat sat on the",
      "Tom had a red ball. He liked to play with his ball. One day, Tom",
      "Once upon a time, there was a little girl named Sue. Sue liked to",
      "The sun was hot. The dog",
      "Mom said, \"Go to bed!\" The boy said, \"No!\"",
      "a b c a b c a b",
  };
  return p;
}

// The mechanism tests (acceptance counts, passes saved, the sampled law) use the drafter's
// adaptive length, which always drafts: the cost policy may rightly decide that drafting does not
// pay on these tiny models and run plain passes. The identity tests run both policies.
GenerateRequest request_for(const Tokenizer& tok, const std::string& text, int n, Speculation s,
                            DraftPolicy policy = DraftPolicy::ADAPTIVE) {
  GenerateRequest r;
  r.prompt = tok.encode(text, true, false);
  r.max_tokens = n;
  r.speculation = s;
  r.draft_policy = policy;
  r.stop_at_eog = false;  // run the full length: more positions compared
  return r;
}

TEST(Engine, SpeculativeGreedyEqualsPlainGreedyOnTheRealModel) {
  REQUIRE_MODELS();
  auto plain = make_engine(fixture().stories);
  auto spec = make_engine(fixture().stories, fixture().perturbed);
  auto same_draft = make_engine(fixture().stories, fixture().stories);
  ASSERT_TRUE(plain && spec && same_draft);
  const Tokenizer& tok = plain->tokenizer();
  std::int64_t rejected = 0, accepted = 0;
  for (const auto& text : prompts()) {
    const GenerateResult ref = plain->generate(request_for(tok, text, 48, Speculation::NONE));
    ASSERT_EQ(ref.finish, Finish::LENGTH) << ref.error;
    ASSERT_EQ(ref.tokens.size(), 48u);
    for (Speculation s : {Speculation::NGRAM, Speculation::DRAFT}) {
      for (Engine* e : {spec.get(), same_draft.get()}) {
        for (DraftPolicy policy : {DraftPolicy::ADAPTIVE, DraftPolicy::COST}) {
          for (int draft_max : {1, 3, 8, 16}) {
            GenerateRequest r = request_for(tok, text, 48, s, policy);
            r.draft_max = draft_max;
            const GenerateResult out = e->generate(std::move(r));
            ASSERT_EQ(out.finish, Finish::LENGTH) << out.error;
            EXPECT_EQ(out.tokens, ref.tokens) << "prompt '" << text << "' speculation " << speculation_name(s)
                                              << " policy " << draft_policy_name(policy) << " draft_max " << draft_max;
            EXPECT_EQ(out.text, ref.text);
            rejected += out.speculation.drafted - out.speculation.accepted;
            accepted += out.speculation.accepted;
            EXPECT_LE(out.speculation.forward_passes, 48);
            const SpeculationStats& st = out.speculation;
            EXPECT_LE(st.verifications + st.skipped_drafts, st.forward_passes);
            if (policy == DraftPolicy::COST) {
              EXPECT_EQ(out.pass_cost_ms.size(), static_cast<std::size_t>(draft_max + 1));
            } else {
              EXPECT_EQ(st.skipped_drafts, 0);
              EXPECT_EQ(st.explored_drafts, 0);
              EXPECT_TRUE(out.pass_cost_ms.empty());
            }
          }
        }
      }
    }
  }
  EXPECT_GT(rejected, 100) << "the perturbed draft must force rejections";
  EXPECT_GT(accepted, 100);
}

TEST(Engine, SameModelDraftIsFullyAcceptedAndSavesPasses) {
  REQUIRE_MODELS();
  auto e = make_engine(fixture().stories, fixture().stories);
  ASSERT_TRUE(e);
  GenerateRequest r = request_for(e->tokenizer(), "Once upon a time", 64, Speculation::DRAFT);
  r.draft_max = 8;
  const GenerateResult out = e->generate(std::move(r));
  ASSERT_EQ(out.finish, Finish::LENGTH) << out.error;
  EXPECT_EQ(out.speculation.accepted, out.speculation.drafted);
  EXPECT_LT(out.speculation.forward_passes, 20);  // 64 tokens in far fewer passes
}

TEST(Engine, NgramSpeculationOnRepetitiveTextAcceptsDrafts) {
  REQUIRE_MODELS();
  auto e = make_engine(fixture().stories);
  ASSERT_TRUE(e);
  // The model (greedy) falls into repeating loops on this prompt; the n-gram drafter sees them.
  GenerateRequest r = request_for(e->tokenizer(), "Lily and Ben went to the park. Lily and Ben", 96, Speculation::NGRAM);
  const GenerateResult out = e->generate(std::move(r));
  ASSERT_EQ(out.finish, Finish::LENGTH) << out.error;
  EXPECT_GT(out.speculation.accepted, 0);
  EXPECT_LT(out.speculation.forward_passes, 96);
}

// Exact law of the 2nd generated token under top-k sampling, computed from the model directly,
// against the engine's samples with and without draft speculation.
TEST(Engine, SampledOutputWithDraftSpeculationHasTheTargetDistribution) {
  REQUIRE_MODELS();
  LoadedModel ref;
  ASSERT_EQ(testing::load_model(fixture().stories, ref), "");
  const Tokenizer& tok = *ref.tokenizer;
  const std::vector<std::int32_t> prompt = tok.encode("Once upon a time, there was a", true, false);
  SamplingParams sp;
  sp.temperature = 1.0f;
  sp.top_k = 6;
  const std::int32_t nv = ref.model->config().n_vocab;
  Sampler s(sp, nv);
  // p(t1), then p(t2 | t1) for each t1 in the support.
  std::map<std::int32_t, double> law;
  {
    auto kv = ref.model->new_kv_cache(64);
    ASSERT_TRUE(kv);
    std::vector<float> logits(static_cast<std::size_t>(nv));
    const std::int32_t last = static_cast<std::int32_t>(prompt.size()) - 1;
    Model::SequenceBatch b{kv->get(), prompt, {&last, 1}, logits.data()};
    ASSERT_TRUE(ref.model->forward({&b, 1}).ok());
    std::vector<TokenProb> p1;
    s.distribution(logits, prompt, p1);
    const std::int32_t n0 = (*kv)->size();
    for (const TokenProb& a : p1) {
      (*kv)->truncate(n0);
      const std::int32_t zero = 0;
      Model::SequenceBatch b2{kv->get(), {&a.id, 1}, {&zero, 1}, logits.data()};
      ASSERT_TRUE(ref.model->forward({&b2, 1}).ok());
      std::vector<std::int32_t> hist = prompt;
      hist.push_back(a.id);
      std::vector<TokenProb> p2;
      s.distribution(logits, hist, p2);
      for (const TokenProb& b3 : p2) law[b3.id] += static_cast<double>(a.p) * b3.p;
    }
  }
  auto chi_square = [&](Engine& e, Speculation spec, std::uint64_t seed0, int n) {
    std::map<std::int32_t, int> counts;
    for (int i = 0; i < n; ++i) {
      GenerateRequest r;
      r.prompt = prompt;
      r.max_tokens = 2;
      r.sampling = sp;
      r.sampling.seed = seed0 + static_cast<std::uint64_t>(i);
      r.stop_at_eog = false;
      r.speculation = spec;
      r.draft_policy = DraftPolicy::ADAPTIVE;  // always drafts: the rejection rule is what is tested
      r.draft_max = 4;
      const GenerateResult out = e.generate(std::move(r));
      EXPECT_EQ(out.tokens.size(), 2u) << out.error;
      if (out.tokens.size() == 2) ++counts[out.tokens[1]];
    }
    double chi2 = 0;
    int dof = -1;
    for (const auto& [id, p] : law) {
      const double expected = p * n;
      if (expected < 1e-9) continue;
      const double o = counts.count(id) ? counts[id] : 0;
      chi2 += (o - expected) * (o - expected) / expected;
      ++dof;
    }
    for (const auto& [id, c] : counts) EXPECT_TRUE(law.count(id)) << "token " << id << " is outside the support";
    return std::make_pair(chi2, dof);
  };
  auto spec_engine = make_engine(fixture().stories, fixture().perturbed);
  auto plain_engine = make_engine(fixture().stories);
  ASSERT_TRUE(spec_engine && plain_engine);
  const int n = 3000;
  const auto [chi_spec, dof] = chi_square(*spec_engine, Speculation::DRAFT, 1000, n);
  const auto [chi_plain, dof2] = chi_square(*plain_engine, Speculation::NONE, 900000, n);
  // 99.9% quantile of chi-square: dof + 3.1*sqrt(2 dof) + ~2 is a safe upper bound for dof in 5..40.
  const double bound = dof + 3.1 * std::sqrt(2.0 * dof) + 2.0;
  EXPECT_LT(chi_spec, bound) << "draft speculation, " << dof << " degrees of freedom";
  EXPECT_LT(chi_plain, bound) << "plain sampling, " << dof2 << " degrees of freedom";
}

TEST(Engine, PrefixReusePrefillsOnlyTheChangedTailAndGivesTheColdLogits) {
  REQUIRE_MODELS();
  Engine::Options opts;
  opts.prefill_chunk = 512;
  auto warm = make_engine(fixture().long_ctx, {}, opts);
  auto cold = make_engine(fixture().long_ctx, {}, opts);
  ASSERT_TRUE(warm && cold);
  ASSERT_GE(warm->options().n_ctx, 2048);
  std::mt19937 rng(5);
  std::vector<std::int32_t> prompt(2000);
  for (auto& t : prompt) t = static_cast<std::int32_t>(3 + rng() % 500);
  auto run = [](Engine& e, const std::vector<std::int32_t>& p) {
    GenerateRequest r;
    r.prompt = p;
    r.max_tokens = 4;
    r.stop_at_eog = false;
    r.return_prompt_logits = true;
    return e.generate(std::move(r));
  };
  const GenerateResult first = run(*warm, prompt);
  ASSERT_EQ(first.finish, Finish::LENGTH) << first.error;
  EXPECT_EQ(first.prefilled_tokens, 2000);
  EXPECT_EQ(first.reused_tokens, 0);
  std::vector<std::int32_t> edited = prompt;
  for (int i = 1995; i < 2000; ++i) edited[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(3 + (edited[static_cast<std::size_t>(i)] + 17) % 500);
  const GenerateResult again = run(*warm, edited);
  ASSERT_EQ(again.finish, Finish::LENGTH) << again.error;
  EXPECT_EQ(again.reused_tokens, 1995);
  EXPECT_EQ(again.prefilled_tokens, 5);
  const GenerateResult reference = run(*cold, edited);
  EXPECT_EQ(reference.prefilled_tokens, 2000);
  ASSERT_EQ(again.prompt_logits.size(), reference.prompt_logits.size());
  float max_diff = 0;
  for (std::size_t i = 0; i < again.prompt_logits.size(); ++i)
    max_diff = std::max(max_diff, std::abs(again.prompt_logits[i] - reference.prompt_logits[i]));
  EXPECT_LT(max_diff, 1e-4f);
  EXPECT_EQ(again.tokens, reference.tokens);
  // The identical prompt again: everything but the last token reused.
  const GenerateResult same = run(*warm, edited);
  EXPECT_EQ(same.reused_tokens, 1999);
  EXPECT_EQ(same.prefilled_tokens, 1);
  EXPECT_EQ(same.tokens, reference.tokens);
}

TEST(Engine, ThousandRandomCancellationsAreAcknowledgedWithinOneForwardPass) {
  REQUIRE_MODELS();
  Engine::Options opts;
  opts.max_active = 4;
  opts.max_batch = 2;
  opts.prefill_chunk = 16;
  auto e = make_engine(fixture().stories, fixture().perturbed, opts);
  ASSERT_TRUE(e);
  const Tokenizer& tok = e->tokenizer();
  std::mt19937 rng(11);
  struct Pending {
    std::future<GenerateResult> f;
    CancelToken cancel;
    std::int64_t cancelled_at = -1;
  };
  int cancelled = 0, completed = 0;
  for (int round = 0; round < 100; ++round) {
    std::vector<Pending> batch;
    for (int i = 0; i < 10; ++i) {
      GenerateRequest r = request_for(tok, prompts()[rng() % prompts().size()], 400, static_cast<Speculation>(rng() % 3));
      r.priority = static_cast<int>(rng() % 3);
      Pending p;
      p.cancel = r.cancel;
      p.f = e->submit(std::move(r));
      batch.push_back(std::move(p));
    }
    for (auto& p : batch) {
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 400));
      p.cancelled_at = e->forward_passes();
      p.cancel.cancel();
    }
    for (auto& p : batch) {
      ASSERT_EQ(p.f.wait_for(std::chrono::seconds(20)), std::future_status::ready) << "stuck worker";
      const GenerateResult r = p.f.get();
      if (r.finish == Finish::CANCELLED) {
        ++cancelled;
        // The pass running at cancel time may finish; no further pass includes the request.
        EXPECT_LE(r.finished_at_pass, p.cancelled_at + 1);
      } else {
        ++completed;
        EXPECT_NE(r.finish, Finish::ERROR) << r.error;
      }
    }
  }
  EXPECT_EQ(cancelled + completed, 1000);
  EXPECT_GT(cancelled, 900);
  // The worker is still alive and correct afterwards.
  const GenerateResult after = e->generate(request_for(tok, "Once upon a time", 8, Speculation::NONE));
  EXPECT_EQ(after.finish, Finish::LENGTH);
  EXPECT_EQ(after.tokens.size(), 8u);
}

TEST(Engine, QueuedRequestsRunByPriorityAndExpiredOnesNeverRun) {
  REQUIRE_MODELS();
  Engine::Options opts;
  opts.max_active = 1;
  opts.max_batch = 1;
  auto e = make_engine(fixture().stories, {}, opts);
  ASSERT_TRUE(e);
  const Tokenizer& tok = e->tokenizer();
  // A blocker keeps the worker busy while the others queue up.
  std::atomic<bool> release{false};
  GenerateRequest blocker = request_for(tok, "Once upon a time", 200, Speculation::NONE);
  // Hold the worker inside the first token's callback until the queue is filled, whatever the
  // machine's speed, then stop the blocker.
  blocker.on_token = [&](const TokenEvent&) {
    while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return false;
  };
  auto fb = e->submit(std::move(blocker));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::mutex mu;
  std::vector<int> order;
  std::vector<std::future<GenerateResult>> fs;
  for (int prio : {1, 3, 2}) {
    GenerateRequest r = request_for(tok, "The cat", 2, Speculation::NONE);
    r.priority = prio;
    r.on_token = [&, prio](const TokenEvent& ev) {
      if (ev.index == 0) {
        std::lock_guard l(mu);
        order.push_back(prio);
      }
      return true;
    };
    fs.push_back(e->submit(std::move(r)));
  }
  GenerateRequest expired = request_for(tok, "The dog", 2, Speculation::NONE);
  expired.priority = 9;
  expired.deadline = Clock::now() + std::chrono::milliseconds(1);
  auto fe = e->submit(std::move(expired));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  release = true;
  EXPECT_EQ(fb.get().finish, Finish::CALLBACK);
  for (auto& f : fs) EXPECT_EQ(f.get().finish, Finish::LENGTH);
  const GenerateResult ex = fe.get();
  EXPECT_EQ(ex.finish, Finish::DEADLINE);
  EXPECT_TRUE(ex.tokens.empty());
  EXPECT_EQ(order, (std::vector<int>{3, 2, 1}));
}

TEST(Engine, ConcurrentRequestsAreBatchedAndMatchSequentialResults) {
  REQUIRE_MODELS();
  Engine::Options opts;
  opts.max_batch = 4;
  auto batched = make_engine(fixture().stories, {}, opts);
  auto seq = make_engine(fixture().stories);
  ASSERT_TRUE(batched && seq);
  const Tokenizer& tok = seq->tokenizer();
  std::vector<std::future<GenerateResult>> fs;
  const std::int64_t passes0 = batched->forward_passes();
  for (int i = 0; i < 4; ++i) fs.push_back(batched->submit(request_for(tok, prompts()[static_cast<std::size_t>(i)], 32, Speculation::NONE)));
  std::int64_t total_tokens = 0;
  for (int i = 0; i < 4; ++i) {
    const GenerateResult got = fs[static_cast<std::size_t>(i)].get();
    const GenerateResult want = seq->generate(request_for(tok, prompts()[static_cast<std::size_t>(i)], 32, Speculation::NONE));
    EXPECT_EQ(got.tokens, want.tokens) << "prompt " << i;
    total_tokens += static_cast<std::int64_t>(got.tokens.size());
  }
  // Four sequences of 32 tokens shared their forward passes (not 4 * 33).
  EXPECT_LT(batched->forward_passes() - passes0, 4 * 33);
}

TEST(Engine, StopStringsStopTokensCallbacksAndErrors) {
  REQUIRE_MODELS();
  auto e = make_engine(fixture().stories);
  ASSERT_TRUE(e);
  const Tokenizer& tok = e->tokenizer();
  const GenerateResult full = e->generate(request_for(tok, "Once upon a time", 40, Speculation::NONE));
  ASSERT_GE(full.text.size(), 20u);
  // A stop string taken from the middle of the greedy text.
  const std::string stop = full.text.substr(10, 4);
  GenerateRequest r = request_for(tok, "Once upon a time", 40, Speculation::NONE);
  r.stop_strings = {stop};
  std::string streamed;
  r.on_token = [&](const TokenEvent& ev) {
    streamed += ev.text;
    return true;
  };
  GenerateResult s = e->generate(std::move(r));
  EXPECT_EQ(s.finish, Finish::STOP_STRING);
  EXPECT_EQ(s.text, full.text.substr(0, full.text.find(stop)));
  EXPECT_EQ(streamed, s.text);
  // A stop token: the 5th greedy token.
  r = request_for(tok, "Once upon a time", 40, Speculation::NGRAM);
  r.stop_tokens = {full.tokens[4]};
  s = e->generate(std::move(r));
  EXPECT_EQ(s.finish, Finish::STOP_TOKEN);
  EXPECT_EQ(s.tokens, std::vector<std::int32_t>(full.tokens.begin(), full.tokens.begin() + 4));
  // Callback stop after 3 tokens.
  r = request_for(tok, "Once upon a time", 40, Speculation::NONE);
  r.on_token = [](const TokenEvent& ev) { return ev.index < 2; };
  s = e->generate(std::move(r));
  EXPECT_EQ(s.finish, Finish::CALLBACK);
  EXPECT_EQ(s.tokens.size(), 3u);
  // Errors: empty prompt, bad token id, too long a prompt, draft without a draft model.
  GenerateRequest bad;
  s = e->generate(bad);
  EXPECT_EQ(s.finish, Finish::ERROR);
  EXPECT_NE(s.error.find("empty"), std::string::npos) << s.error;
  bad.prompt = {1, 100000};
  s = e->generate(bad);
  EXPECT_EQ(s.finish, Finish::ERROR);
  EXPECT_NE(s.error.find("100000"), std::string::npos) << s.error;
  bad.prompt.assign(static_cast<std::size_t>(e->options().n_ctx) + 10, 5);
  s = e->generate(bad);
  EXPECT_EQ(s.finish, Finish::ERROR);
  EXPECT_NE(s.error.find("context"), std::string::npos) << s.error;
  bad = request_for(tok, "Once", 4, Speculation::DRAFT);
  s = e->generate(bad);
  EXPECT_EQ(s.finish, Finish::ERROR);
  EXPECT_NE(s.error.find("draft"), std::string::npos) << s.error;
  // Still serving.
  EXPECT_EQ(e->generate(request_for(tok, "Once upon a time", 40, Speculation::NONE)).tokens, full.tokens);
}

TEST(Engine, CachedSequencesStayWithinTheByteLimit) {
  REQUIRE_MODELS();
  Engine::Options opts;
  opts.max_cached_sequences = 100;
  auto probe = make_engine(fixture().stories, {}, opts);
  ASSERT_TRUE(probe);
  const Tokenizer& tok = probe->tokenizer();
  probe->generate(request_for(tok, prompts()[0], 8, Speculation::NONE));
  const std::size_t one = probe->cached_bytes();
  ASSERT_GT(one, 0u);
  opts.cache_bytes = one * 3;
  auto e = make_engine(fixture().stories, {}, opts);
  for (const auto& p : prompts()) e->generate(request_for(tok, p, 8, Speculation::NONE));
  EXPECT_LE(e->cached_bytes(), one * 3);
  EXPECT_GE(e->cached_sequences(), 1u);
}

TEST(Engine, CreateValidatesItsInputs) {
  REQUIRE_MODELS();
  LoadedModel a;
  ASSERT_EQ(testing::load_model(fixture().stories, a), "");
  auto no_model = Engine::create(nullptr, a.tokenizer, {});
  ASSERT_FALSE(no_model);
  EXPECT_NE(no_model.message().find("no model"), std::string::npos);
  auto no_tok = Engine::create(std::move(a.model), nullptr, {});
  ASSERT_FALSE(no_tok);
  EXPECT_NE(no_tok.message().find("no tokenizer"), std::string::npos);
}

// Tiny generated models with the real Qwen2 vocabulary: the target (seed 1) and a draft with
// other random weights (seed 2), so drafts are mostly rejected, and the target as its own draft.
TEST(Engine, SpeculativeGreedyEqualsPlainGreedyOnGeneratedModels) {
  RAPIDE_REQUIRE_SHARED(vocab, "vocab/ggml-vocab-qwen2.gguf");
  testing::TempDir dir;
  for (const char* arch : {"qwen2", "qwen3moe"}) {
    std::filesystem::path paths[2];
    for (int i = 0; i < 2; ++i) {
      MakeModelOptions o;
      auto dims = preset_dims("tiny", arch);
      ASSERT_TRUE(dims) << dims.message();
      o.dims = *dims;
      o.format = *parse_weight_format("q8_0");
      o.vocab = vocab;
      o.seed = static_cast<std::uint64_t>(i + 1);
      o.output = dir.path() / (std::string(arch) + "-" + std::to_string(i) + ".gguf");
      auto rep = make_model(o);
      ASSERT_TRUE(rep) << arch << ": " << rep.message();
      paths[i] = o.output;
    }
    auto plain = make_engine(paths[0]);
    auto other_draft = make_engine(paths[0], paths[1]);
    auto self_draft = make_engine(paths[0], paths[0]);
    ASSERT_TRUE(plain && other_draft && self_draft);
    const Tokenizer& tok = plain->tokenizer();
    std::int64_t rejected = 0;
    for (const char* text : {"def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
                             "hello hello hello hello"}) {
      const GenerateResult ref = plain->generate(request_for(tok, text, 16, Speculation::NONE));
      ASSERT_EQ(ref.finish, Finish::LENGTH) << ref.error;
      for (Engine* e : {other_draft.get(), self_draft.get()}) {
        for (Speculation s : {Speculation::NGRAM, Speculation::DRAFT}) {
          for (DraftPolicy policy : {DraftPolicy::ADAPTIVE, DraftPolicy::COST}) {
            GenerateRequest r = request_for(tok, text, 16, s, policy);
            r.draft_max = 6;
            const GenerateResult out = e->generate(std::move(r));
            ASSERT_EQ(out.finish, Finish::LENGTH) << out.error;
            EXPECT_EQ(out.tokens, ref.tokens) << arch << " '" << text << "' " << speculation_name(s) << " "
                                              << draft_policy_name(policy);
            rejected += out.speculation.drafted - out.speculation.accepted;
          }
        }
      }
    }
    EXPECT_GT(rejected, 0) << arch;
  }
}

}  // namespace
}  // namespace rapide::inference::engine

