// Scheduler and debounce policy: bursts cost one computation, superseded tasks are dropped,
// priorities order the workers' queue.
#include "rapide/lsp/scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace rapide::lsp {
namespace {

using namespace std::chrono_literals;

TEST(Debounce, NoneAndFixed) {
  TypingStats t;
  EXPECT_EQ(DebouncePolicy::none().delay(t), 0ms);
  EXPECT_EQ(DebouncePolicy::fixed(75ms).delay(t), 75ms);
}

TEST(Debounce, AdaptiveFollowsTypingRhythm) {
  const auto p = DebouncePolicy::adaptive(20ms, 250ms);
  TypingStats t;
  EXPECT_EQ(p.delay(t), 20ms) << "no history: the minimum";
  auto now = SteadyClock::now();
  for (int i = 0; i < 40; ++i) t.record_change(now += 100ms);
  EXPECT_NEAR(static_cast<double>(p.delay(t).count()), 100.0, 2.0) << "steady typing: the interval";
  for (int i = 0; i < 40; ++i) t.record_change(now += (i % 2 ? 60ms : 140ms));
  EXPECT_GT(p.delay(t), 200ms) << "jittery typing: interval + 4 x deviation covers the slow gaps";
  for (int i = 0; i < 40; ++i) t.record_change(now += 1000ms);
  EXPECT_EQ(p.delay(t), 250ms) << "slow typing: capped at the maximum";
  t.record_change(now += 10s);  // a pause is not typing
  EXPECT_EQ(p.delay(t), 250ms);
}

TEST(Debounce, AdaptiveWaitsLongerForExpensiveCompletions) {
  const auto p = DebouncePolicy::adaptive(20ms, 250ms);
  TypingStats t;
  auto now = SteadyClock::now();
  for (int i = 0; i < 40; ++i) t.record_change(now += 30ms);
  const auto cheap = p.delay(t);
  EXPECT_NEAR(static_cast<double>(cheap.count()), 30.0, 2.0);
  for (int i = 0; i < 40; ++i) t.record_latency(600.0);
  EXPECT_NEAR(static_cast<double>(p.delay(t).count()), 150.0, 2.0) << "a quarter of the latency";
  for (int i = 0; i < 40; ++i) t.record_latency(4000.0);
  EXPECT_EQ(p.delay(t), 250ms) << "never above the maximum";
}

TEST(Scheduler, BurstOfFiftyChangesInOneSecondComputesOnce) {
  EventLoop loop;
  Metrics metrics;
  Scheduler s(loop, {1, DebouncePolicy::adaptive()}, metrics);
  s.open("file:///a.py", "python", "", 1);
  std::atomic<int> finished{0}, dropped{0}, cancelled_while_running{0};
  int version = 1;
  std::function<void()> keystroke;
  keystroke = [&] {
    ASSERT_TRUE(s.change("file:///a.py", ++version,
                         {{context::Range{{0, 0}, {0, 0}}, "x"}}, context::PositionEncoding::utf16));
    Task t;
    t.cancel = CancelToken();
    t.priority = inference::engine::priority::kInlineCompletion;
    auto tok = t.cancel;
    t.run = [&, tok] {
      // A "completion" that takes 30 ms of cancellable work (the engine checks between passes).
      for (int i = 0; i < 30; ++i) {
        if (tok.cancelled()) {
          cancelled_while_running.fetch_add(1);
          return;
        }
        std::this_thread::sleep_for(1ms);
      }
      finished.fetch_add(1);
    };
    t.dropped = [&] { dropped.fetch_add(1); };
    s.schedule_debounced("file:///a.py", std::move(t));
    if (version < 51) loop.post_after(20ms, keystroke);  // 50 changes in ~1 s
  };
  loop.post(keystroke);
  loop.post_after(1500ms, [&] { loop.stop(); });
  loop.run();
  EXPECT_EQ(version, 51);
  EXPECT_LE(finished.load(), 1);
  EXPECT_EQ(finished.load() + dropped.load() + cancelled_while_running.load(), 50);
  EXPECT_EQ(s.snapshot("file:///a.py")->text(), std::string(50, 'x'));
}

TEST(Scheduler, PrioritiesOrderTheQueue) {
  EventLoop loop;
  Metrics metrics;
  Scheduler s(loop, {1, DebouncePolicy::none()}, metrics);
  std::vector<int> order;
  std::mutex m;
  std::atomic<bool> gate{false};
  // Block the single worker so the next three tasks queue up.
  Task blocker;
  blocker.run = [&] {
    while (!gate.load()) std::this_thread::sleep_for(1ms);
  };
  s.schedule(std::move(blocker));
  std::this_thread::sleep_for(20ms);
  for (int prio : {inference::engine::priority::kCodeAction, inference::engine::priority::kInlineCompletion,
                   inference::engine::priority::kHover}) {
    Task t;
    t.priority = prio;
    t.run = [&, prio] {
      std::lock_guard lock(m);
      order.push_back(prio);
    };
    s.schedule(std::move(t));
  }
  gate = true;
  for (int i = 0; i < 200; ++i) {
    {
      std::lock_guard lock(m);
      if (order.size() == 3) break;
    }
    std::this_thread::sleep_for(5ms);
  }
  std::lock_guard lock(m);
  EXPECT_EQ(order, (std::vector<int>{inference::engine::priority::kInlineCompletion, inference::engine::priority::kHover,
                                     inference::engine::priority::kCodeAction}));
}

TEST(Scheduler, SynchronousModeRunsInline) {
  EventLoop loop;
  Metrics metrics;
  Scheduler s(loop, {0, DebouncePolicy::none()}, metrics);
  bool ran = false;
  Task t;
  t.run = [&] { ran = true; };
  s.schedule(std::move(t));
  EXPECT_TRUE(ran);
}

TEST(Scheduler, CancelledBeforeRunningIsDropped) {
  EventLoop loop;
  Metrics metrics;
  Scheduler s(loop, {0, DebouncePolicy::none()}, metrics);
  bool ran = false, dropped = false;
  Task t;
  t.cancel.cancel();
  t.run = [&] { ran = true; };
  t.dropped = [&] { dropped = true; };
  s.schedule(std::move(t));
  EXPECT_FALSE(ran);
  EXPECT_TRUE(dropped);
}

// Issue 10: a task cancelled while every worker is busy is dropped (answered) by drop_cancelled
// at once, debounced ones too, instead of when a worker frees up.
TEST(Scheduler, DropCancelledAnswersQueuedAndDebouncedTasksWhileWorkersAreBusy) {
  EventLoop loop;
  Metrics metrics;
  Scheduler s(loop, {1, DebouncePolicy::fixed(10s)}, metrics);
  s.open("file:///a.py", "python", "", 1);
  std::atomic<bool> gate{false}, started{false};
  Task blocker;
  blocker.run = [&] {
    started = true;
    while (!gate.load()) std::this_thread::sleep_for(1ms);
  };
  s.schedule(std::move(blocker));
  for (int i = 0; i < 2000 && !started.load(); ++i) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(started.load());
  std::atomic<bool> queued_ran{false}, debounced_ran{false};
  bool queued_dropped = false, debounced_dropped = false;
  Task queued;
  queued.run = [&] { queued_ran = true; };
  queued.dropped = [&] { queued_dropped = true; };
  CancelToken queued_cancel = queued.cancel;
  s.schedule(std::move(queued));
  Task debounced;
  debounced.run = [&] { debounced_ran = true; };
  debounced.dropped = [&] { debounced_dropped = true; };
  CancelToken debounced_cancel = debounced.cancel;
  s.schedule_debounced("file:///a.py", std::move(debounced));
  queued_cancel.cancel();
  debounced_cancel.cancel();
  s.drop_cancelled();  // on the loop thread, as $/cancelRequest does
  EXPECT_TRUE(queued_dropped) << "answered while the worker is still busy";
  EXPECT_TRUE(debounced_dropped) << "answered before its debounce delay";
  gate = true;
  std::this_thread::sleep_for(50ms);
  loop.run_until_idle();
  EXPECT_FALSE(queued_ran.load());
  EXPECT_FALSE(debounced_ran.load());
}

TEST(Scheduler, UriToPath) {
  EXPECT_EQ(uri_to_path("file:///home/me/a%20b.py"), "/home/me/a b.py");
  EXPECT_EQ(uri_to_path("untitled:Untitled-1"), "untitled:Untitled-1");
}

}  // namespace
}  // namespace rapide::lsp
