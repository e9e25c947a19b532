// The CPU backend's ThreadPool: every task (or range) runs exactly once, ranges are contiguous,
// aligned and cover [0, n), the pool keeps working after its workers fall asleep, back-to-back
// loops do not lose or repeat work, and small loops stay on the caller.
#include "cpu/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace rapide::inference::cpu {
namespace {

constexpr std::int64_t kBig = ThreadPool::kMinParallelWork;

TEST(ThreadPool, EveryTaskRunsOnceOnValidThreads) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (std::int64_t n : {1, 2, 7, 64, 1001}) {
      std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
      std::atomic<bool> bad_thread{false};
      pool.run(n, [&](std::int64_t t, int thread) {
        hits[static_cast<std::size_t>(t)].fetch_add(1);
        if (thread < 0 || thread >= threads) bad_thread = true;
      }, kBig);
      for (std::int64_t t = 0; t < n; ++t) EXPECT_EQ(hits[static_cast<std::size_t>(t)].load(), 1) << threads << " " << n << " " << t;
      EXPECT_FALSE(bad_thread.load());
    }
  }
}

TEST(ThreadPool, RangePartitionsAreContiguousAlignedAndBalanced) {
  for (std::int64_t n : {1, 5, 16, 17, 100, 4096, 4099}) {
    for (int parts : {1, 2, 3, 7}) {
      for (std::int64_t align : {1, 4, 16}) {
        std::int64_t expect_begin = 0;
        std::int64_t min_blocks = n, max_blocks = 0;
        for (int p = 0; p < parts; ++p) {
          const ThreadPool::Range r = ThreadPool::range(n, parts, p, align);
          EXPECT_EQ(r.begin, expect_begin);
          EXPECT_LE(r.begin, r.end);
          if (r.end != n) {
            EXPECT_EQ(r.end % align, 0) << n << " " << parts << " " << align;
          }
          const std::int64_t blocks = (r.end - r.begin + align - 1) / align;
          min_blocks = std::min(min_blocks, blocks);
          max_blocks = std::max(max_blocks, blocks);
          expect_begin = r.end;
        }
        EXPECT_EQ(expect_begin, n);
        EXPECT_LE(max_blocks - min_blocks, 1) << n << " " << parts << " " << align;
      }
    }
  }
}

TEST(ThreadPool, RunRangesCoversEachIndexOnceWithOneRangePerThread) {
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    for (std::int64_t n : {1, 3, 16, 33, 1000}) {
      for (std::int64_t align : {1, 8}) {
        std::vector<int> hits(static_cast<std::size_t>(n), 0);
        std::mutex mu;
        std::vector<ThreadPool::Range> seen;
        pool.run_ranges(n, [&](std::int64_t b, std::int64_t e, int thread) {
          EXPECT_GE(thread, 0);
          EXPECT_LT(thread, threads);
          std::lock_guard<std::mutex> lock(mu);
          seen.push_back({b, e});
          for (std::int64_t i = b; i < e; ++i) ++hits[static_cast<std::size_t>(i)];
        }, kBig, align);
        for (std::int64_t i = 0; i < n; ++i) EXPECT_EQ(hits[static_cast<std::size_t>(i)], 1) << threads << " " << n;
        EXPECT_LE(static_cast<int>(seen.size()), threads);
        for (const auto& r : seen) {
          EXPECT_LT(r.begin, r.end);
          if (r.begin != 0) {
            EXPECT_EQ(r.begin % align, 0);
          }
        }
      }
    }
  }
}

TEST(ThreadPool, SmallLoopsRunOnTheCaller) {
  ThreadPool pool(3);
  std::vector<int> threads_seen;
  pool.run(8, [&](std::int64_t, int thread) { threads_seen.push_back(thread); }, /*work=*/100);
  EXPECT_EQ(threads_seen, std::vector<int>(8, 0));
  int calls = 0;
  pool.run_ranges(50, [&](std::int64_t b, std::int64_t e, int thread) {
    ++calls;
    EXPECT_EQ(b, 0);
    EXPECT_EQ(e, 50);
    EXPECT_EQ(thread, 0);
  }, 100);
  EXPECT_EQ(calls, 1);
}

TEST(ThreadPool, WorksAfterWorkersFallAsleep) {
  ThreadPool pool(3);
  for (int round = 0; round < 4; ++round) {
    // Longer than the spin phase: the workers go to sleep on the condition variable.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::atomic<std::int64_t> sum{0};
    pool.run(100, [&](std::int64_t t, int) { sum += t; }, kBig);
    EXPECT_EQ(sum.load(), 4950);
    std::atomic<std::int64_t> covered{0};
    pool.run_ranges(1000, [&](std::int64_t b, std::int64_t e, int) { covered += e - b; }, kBig);
    EXPECT_EQ(covered.load(), 1000);
  }
}

TEST(ThreadPool, ManyBackToBackLoopsLoseNothing) {
  ThreadPool pool(4);  // more threads than this machine's cores: workers get descheduled
  std::int64_t total = 0;
  for (int i = 0; i < 1000; ++i) {
    std::atomic<std::int64_t> sum{0};
    if (i % 2) {
      pool.run(17, [&](std::int64_t t, int) { sum += t + 1; }, kBig);
      total += sum.load() == 17 * 18 / 2;
    } else {
      pool.run_ranges(97, [&](std::int64_t b, std::int64_t e, int) { sum += e - b; }, kBig, 4);
      total += sum.load() == 97;
    }
  }
  EXPECT_EQ(total, 1000);
}

TEST(ThreadPool, PhysicalCoreCountIsWithinTheLogicalCount) {
  const int n = physical_core_count();
  EXPECT_GE(n, 1);
  const unsigned logical = std::thread::hardware_concurrency();
  if (logical > 0) {
    EXPECT_LE(n, static_cast<int>(logical));
  }
}

}  // namespace
}  // namespace rapide::inference::cpu
