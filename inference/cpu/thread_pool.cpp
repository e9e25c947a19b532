#include "cpu/thread_pool.h"

#include <fstream>
#include <set>
#include <string>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RAPIDE_CPU_RELAX() _mm_pause()
#else
#define RAPIDE_CPU_RELAX() std::this_thread::yield()
#endif

namespace rapide::inference::cpu {

namespace {
// Iterations a worker spins waiting for the next loop before it sleeps (~tens of microseconds).
constexpr int kSpinIterations = 20000;
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
  workers_.reserve(static_cast<std::size_t>(n_threads_ - 1));
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_main(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::work(int thread) {
  for (;;) {
    const std::int64_t task = next_task_.fetch_add(1, std::memory_order_relaxed);
    if (task >= n_tasks_) break;
    fn_(ctx_, task, thread);
  }
}

void ThreadPool::run_impl(std::int64_t n_tasks, TaskFn fn, void* ctx) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    fn_ = fn;
    ctx_ = ctx;
    n_tasks_ = n_tasks;
    next_task_.store(0, std::memory_order_relaxed);
    busy_workers_.store(n_threads_ - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  work(0);
  // Wait for the workers to finish their last task (they may still be inside one).
  // Spin first; yield the core if a worker is descheduled (oversubscribed machine).
  for (int spin = 0; busy_workers_.load(std::memory_order_acquire) != 0; ++spin) {
    if (spin < kSpinIterations)
      RAPIDE_CPU_RELAX();
    else
      std::this_thread::yield();
  }
}

void ThreadPool::worker_main(int thread) {
  std::uint64_t seen = 0;
  for (;;) {
    std::uint64_t gen = generation_.load(std::memory_order_acquire);
    for (int spin = 0; gen == seen && spin < kSpinIterations; ++spin) {
      RAPIDE_CPU_RELAX();
      gen = generation_.load(std::memory_order_acquire);
    }
    if (gen == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      gen = generation_.load(std::memory_order_acquire);
    }
    seen = gen;
    if (stop_.load()) return;
    {
      // Take the loop's parameters under the lock that published them.
      std::lock_guard<std::mutex> lock(mutex_);
    }
    work(thread);
    busy_workers_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

int physical_core_count() {
  // Count distinct (physical id, core id) pairs in /proc/cpuinfo; fall back to the logical count.
  std::ifstream in("/proc/cpuinfo");
  std::set<std::pair<int, int>> cores;
  std::string line;
  int phys = 0;
  while (std::getline(in, line)) {
    auto value = [&]() { return std::stoi(line.substr(line.find(':') + 1)); };
    if (line.rfind("physical id", 0) == 0) phys = value();
    if (line.rfind("core id", 0) == 0) cores.insert({phys, value()});
  }
  const int logical = static_cast<int>(std::thread::hardware_concurrency());
  if (!cores.empty() && static_cast<int>(cores.size()) <= (logical > 0 ? logical : 1 << 20))
    return static_cast<int>(cores.size());
  return logical > 0 ? logical : 1;
}

}  // namespace rapide::inference::cpu
