#include "cpu/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <utility>

#if defined(__linux__)
#include <sched.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RAPIDE_CPU_RELAX() _mm_pause()
#else
#define RAPIDE_CPU_RELAX() std::this_thread::yield()
#endif

namespace rapide::inference::cpu {

namespace {
// How long a worker spins for the next loop before it sleeps. The gaps between the ops of a
// forward pass are microseconds, the gap between two decode steps (sampling, engine bookkeeping)
// tens of microseconds: both stay on the spinning path. Measured in time, not iterations, since
// the cost of `pause` varies 20x between CPU generations.
constexpr auto kSpin = std::chrono::microseconds(500);
// Pauses between two clock reads while spinning.
constexpr int kPausesPerCheck = 64;
}  // namespace

ThreadPool::ThreadPool(int n_threads)
    : n_threads_(n_threads < 1 ? 1 : n_threads), claimed_(new std::atomic<std::uint64_t>[static_cast<std::size_t>(n_threads_)]) {
  for (int i = 0; i < n_threads_; ++i) claimed_[static_cast<std::size_t>(i)].store(0, std::memory_order_relaxed);
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

ThreadPool::Range ThreadPool::range(std::int64_t n, int n_parts, int part, std::int64_t align) {
  if (align < 1) align = 1;
  const std::int64_t blocks = (n + align - 1) / align;
  const std::int64_t b0 = blocks * part / n_parts, b1 = blocks * (part + 1) / n_parts;
  Range r;
  r.begin = std::min(n, b0 * align);
  r.end = std::min(n, b1 * align);
  return r;
}

void ThreadPool::execute(int thread) {
  if (mode_ == Mode::TASKS) {
    for (;;) {
      const std::int64_t task = next_task_.fetch_add(1, std::memory_order_relaxed);
      if (task >= n_) break;
      fn_(ctx_, task, 0, thread);
    }
    return;
  }
  // RANGES: this thread's own range first, then any range whose thread has not claimed it yet.
  auto try_range = [&](int part) {
    std::atomic<std::uint64_t>& flag = claimed_[static_cast<std::size_t>(part)];
    std::uint64_t seen = flag.load(std::memory_order_relaxed);
    if (seen == range_stamp_ || !flag.compare_exchange_strong(seen, range_stamp_, std::memory_order_acq_rel)) return;
    const Range r = range(n_, n_threads_, part, align_);
    if (r.begin < r.end) fn_(ctx_, r.begin, r.end, thread);
  };
  try_range(thread);
  for (int i = 1; i < n_threads_; ++i) try_range((thread + i) % n_threads_);
}

void ThreadPool::run_impl(Mode mode, std::int64_t n, std::int64_t align, TaskFn fn, void* ctx) {
  mode_ = mode;
  fn_ = fn;
  ctx_ = ctx;
  n_ = n;
  align_ = align;
  if (mode == Mode::RANGES) ++range_stamp_;
  next_task_.store(0, std::memory_order_relaxed);
  busy_workers_.store(n_threads_ - 1, std::memory_order_relaxed);
  // seq_cst: ordered against the sleepers_ check below (a worker registers as a sleeper and then
  // re-reads the generation, so one of the two sides always sees the other).
  generation_.fetch_add(1, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) {
    // Taking the mutex orders this notify after a worker's check-then-wait.
    { std::lock_guard<std::mutex> lock(mutex_); }
    wake_.notify_all();
  }
  execute(0);
  // Wait for the workers to finish their last task (they may still be inside one). Spin first;
  // yield the core if a worker is descheduled (oversubscribed machine).
  const auto t0 = std::chrono::steady_clock::now();
  bool spinning = true;
  for (int spin = 1; busy_workers_.load(std::memory_order_acquire) != 0; ++spin) {
    if (spinning) {
      RAPIDE_CPU_RELAX();
      if (spin % kPausesPerCheck == 0 && std::chrono::steady_clock::now() - t0 > kSpin) spinning = false;
    } else {
      std::this_thread::yield();
    }
  }
}

void ThreadPool::worker_main(int thread) {
  std::uint32_t seen = 0;
  for (;;) {
    std::uint32_t gen = generation_.load(std::memory_order_acquire);
    if (gen == seen) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int spin = 1; gen == seen; ++spin) {
        RAPIDE_CPU_RELAX();
        gen = generation_.load(std::memory_order_acquire);
        if (gen != seen || spin % kPausesPerCheck != 0 || std::chrono::steady_clock::now() - t0 < kSpin) continue;
        // Spun long enough: sleep until the next loop.
        std::unique_lock<std::mutex> lock(mutex_);
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_seq_cst) != seen; });
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
        gen = generation_.load(std::memory_order_acquire);
      }
    }
    seen = gen;
    if (stop_.load()) return;
    execute(thread);
    busy_workers_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

int physical_core_count() {
  // Count distinct (physical id, core id) pairs in /proc/cpuinfo; fall back to the logical count.
  std::ifstream in("/proc/cpuinfo");
  std::set<std::pair<long, long>> cores;
  std::string line;
  long phys = 0;
  while (std::getline(in, line)) {
    auto value = [&]() -> long {
      const auto colon = line.find(':');
      return colon == std::string::npos ? -1 : std::strtol(line.c_str() + colon + 1, nullptr, 10);
    };
    if (line.rfind("physical id", 0) == 0) phys = value();
    if (line.rfind("core id", 0) == 0) cores.insert({phys, value()});
  }
  int logical = static_cast<int>(std::thread::hardware_concurrency());
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) logical = CPU_COUNT(&set);
#endif
  if (logical < 1) logical = 1;
  const int physical = static_cast<int>(cores.size());
  if (physical >= 1 && physical <= logical) return physical;
  return logical;
}

}  // namespace rapide::inference::cpu
