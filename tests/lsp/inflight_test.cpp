// InflightGeneration: who may join a running generation, when it stops, what joiners get.
#include "rapide/lsp/inflight.h"

#include <gtest/gtest.h>

#include <thread>

namespace rapide::lsp {
namespace {

using inference::engine::CancelToken;
using namespace std::chrono_literals;

struct Outcome {
  bool called = false;
  std::optional<std::string> rest;
};

InflightGeneration::Joiner joiner(CancelToken cancel, Outcome& out) {
  InflightGeneration::Joiner j;
  j.cancel = std::move(cancel);
  j.done = [&out](std::optional<std::string> rest) {
    out.called = true;
    out.rest = std::move(rest);
  };
  return j;
}

TEST(Inflight, TypedTextThatAgreesWithTheStreamJoins) {
  CancelToken owner;
  InflightGeneration g("x = ", "\n", owner);
  EXPECT_EQ(g.typed_in("x = \n"), "");
  EXPECT_EQ(g.typed_in("x = ad\n"), "ad");  // nothing streamed yet: anything may still come
  g.on_stream("add(1");
  EXPECT_EQ(g.typed_in("x = ad\n"), "ad");
  EXPECT_EQ(g.typed_in("x = add(1, 2\n"), "add(1, 2");  // typed past the stream, agrees so far
  EXPECT_FALSE(g.typed_in("x = ab\n"));                 // disagrees
  EXPECT_FALSE(g.typed_in("y = ad\n"));                 // text before the cursor changed
  EXPECT_FALSE(g.typed_in("x = ad\n\n"));               // text after the cursor changed
  owner.cancel();
  CancelToken req;
  Outcome out;
  ASSERT_TRUE(g.try_join("x = ad\n", joiner(req, out)));
  EXPECT_FALSE(g.stop_if_unused()) << "a live joiner uses it";
  g.finish(std::string("add(1, 2)"));
  ASSERT_TRUE(out.called);
  EXPECT_EQ(out.rest, "d(1, 2)");
  EXPECT_FALSE(g.try_join("x = ad\n", joiner(req, out))) << "finished";
}

TEST(Inflight, DivergingJoinerIsHandedBackAndTheUnusedGenerationStops) {
  CancelToken owner;
  owner.cancel();
  InflightGeneration g("a", "", owner);
  CancelToken req;
  Outcome out;
  ASSERT_TRUE(g.try_join("ab", joiner(req, out)));
  EXPECT_TRUE(g.on_stream("b")) << "agrees with the typed 'b'";
  EXPECT_FALSE(out.called);
  EXPECT_FALSE(g.on_stream("c")) << "diverged, and nobody else uses it: stop";
  EXPECT_TRUE(out.called);
  EXPECT_FALSE(out.rest);
  EXPECT_TRUE(g.cancel().cancelled());
}

TEST(Inflight, GraceKeepsItForTheNextRequestThenStops) {
  CancelToken owner;
  InflightGeneration g("def f(", ")", owner);
  owner.cancel();  // the keystroke cancelled the request that started it
  EXPECT_FALSE(g.document_changed("def f(x)", 200ms)) << "typed text agrees: kept";
  EXPECT_TRUE(g.on_stream("x, y"));
  EXPECT_FALSE(g.stop_if_unused());
  std::this_thread::sleep_for(250ms);
  EXPECT_TRUE(g.stop_if_unused()) << "no request joined within the grace period";
  EXPECT_TRUE(g.cancel().cancelled());
}

TEST(Inflight, DisagreeingChangeStopsIt) {
  CancelToken owner;
  InflightGeneration g("def f(", ")", owner);
  g.on_stream("x, y");
  owner.cancel();
  EXPECT_TRUE(g.document_changed("def f(z)", 200ms));
  EXPECT_TRUE(g.cancel().cancelled());
}

TEST(Inflight, OwnerAliveKeepsIt) {
  CancelToken owner;
  InflightGeneration g("a", "", owner);
  EXPECT_TRUE(g.on_stream("bc"));
  EXPECT_FALSE(g.stop_if_unused());
  EXPECT_FALSE(g.document_changed("zzz", 0ms));
  EXPECT_FALSE(g.cancel().cancelled());
}

TEST(Inflight, CancelledJoinerGetsNothingAndFailedGenerationServesNobody) {
  CancelToken owner;
  InflightGeneration g("a", "", owner);
  CancelToken live, gone;
  Outcome o1, o2;
  ASSERT_TRUE(g.try_join("ab", joiner(live, o1)));
  ASSERT_TRUE(g.try_join("ab", joiner(gone, o2)));
  gone.cancel();
  g.finish(std::nullopt);
  EXPECT_TRUE(o1.called && !o1.rest);
  EXPECT_TRUE(o2.called && !o2.rest);
}

// Issue 10: nothing streams while the generation waits for a busy backend, so on_stream never
// runs; the periodic tick must stop it as soon as its owner is cancelled.
TEST(Inflight, TickStopsAGenerationWhoseOwnerWasCancelledBeforeAnyText) {
  CancelToken owner;
  InflightGeneration g("a", "", owner);
  EXPECT_FALSE(g.tick()) << "the owner still wants it";
  EXPECT_FALSE(g.cancel().cancelled());
  owner.cancel();
  EXPECT_TRUE(g.tick());
  EXPECT_TRUE(g.cancel().cancelled());
  g.finish(std::nullopt);
  EXPECT_TRUE(g.tick()) << "finished";
}

TEST(Inflight, TickAnswersACancelledJoinerAtOnceAndKeepsServingTheLiveOne) {
  CancelToken owner;
  owner.cancel();
  InflightGeneration g("a", "", owner);
  CancelToken live, gone;
  Outcome o_live, o_gone;
  ASSERT_TRUE(g.try_join("ab", joiner(live, o_live)));
  ASSERT_TRUE(g.try_join("ab", joiner(gone, o_gone)));
  gone.cancel();
  EXPECT_FALSE(g.tick()) << "the live joiner still uses it";
  EXPECT_TRUE(o_gone.called && !o_gone.rest) << "answered before the generation ends";
  EXPECT_FALSE(o_live.called);
  EXPECT_EQ(g.joiners(), 1u);
  live.cancel();
  EXPECT_TRUE(g.tick());
  EXPECT_TRUE(o_live.called && !o_live.rest);
  EXPECT_TRUE(g.cancel().cancelled());
}

TEST(Inflight, StreamHandsBackCancelledJoiners) {
  CancelToken owner;
  InflightGeneration g("a", "", owner);
  CancelToken gone;
  Outcome o;
  ASSERT_TRUE(g.try_join("ab", joiner(gone, o)));
  gone.cancel();
  EXPECT_TRUE(g.on_stream("b")) << "the owner is live";
  EXPECT_TRUE(o.called && !o.rest);
  EXPECT_EQ(g.joiners(), 0u);
}

}  // namespace
}  // namespace rapide::lsp
