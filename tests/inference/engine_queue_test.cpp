// Request queue ordering, deadlines and cancellation tokens.
#include "rapide/inference/engine/request_queue.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace rapide::inference::engine {
namespace {

TEST(CancelToken, CopiesShareTheFlag) {
  CancelToken a;
  CancelToken b = a;
  EXPECT_FALSE(b.cancelled());
  std::thread t([a] { a.cancel(); });
  t.join();
  EXPECT_TRUE(b.cancelled());
  CancelToken c;
  EXPECT_FALSE(c.cancelled());
}

TEST(RequestQueue, PriorityThenDeadlineThenArrival) {
  RequestQueue<std::string> q;
  const auto now = Clock::now();
  q.push(priority::kHover, std::nullopt, {}, "hover");
  q.push(priority::kCodeAction, now + std::chrono::seconds(1), {}, "action");
  q.push(priority::kInlineCompletion, std::nullopt, {}, "complete-no-deadline");
  q.push(priority::kInlineCompletion, now + std::chrono::seconds(5), {}, "complete-late");
  q.push(priority::kInlineCompletion, now + std::chrono::seconds(2), {}, "complete-soon");
  q.push(priority::kHover, std::nullopt, {}, "hover-2");
  ASSERT_EQ(q.peek()->item, "complete-soon");
  std::vector<std::string> order;
  while (auto e = q.pop()) order.push_back(e->item);
  EXPECT_EQ(order, (std::vector<std::string>{"complete-soon", "complete-late", "complete-no-deadline", "hover",
                                             "hover-2", "action"}));
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.pop().has_value());
}

TEST(RequestQueue, DrainDeadRemovesCancelledAndExpired) {
  RequestQueue<int> q;
  const auto now = Clock::now();
  CancelToken c1, c2;
  q.push(1, std::nullopt, c1, 1);
  q.push(1, now - std::chrono::milliseconds(1), {}, 2);
  q.push(1, now + std::chrono::hours(1), c2, 3);
  q.push(2, std::nullopt, {}, 4);
  c1.cancel();
  EXPECT_EQ(q.earliest_deadline(), now - std::chrono::milliseconds(1));
  auto dead = q.drain_dead(now);
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_EQ(dead[0].first.item, 1);
  EXPECT_FALSE(dead[0].second);
  EXPECT_EQ(dead[1].first.item, 2);
  EXPECT_TRUE(dead[1].second);
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.pop()->item, 4);
  c2.cancel();
  EXPECT_EQ(q.drain_dead(now).size(), 1u);
  EXPECT_TRUE(q.empty());
}

}  // namespace
}  // namespace rapide::inference::engine
