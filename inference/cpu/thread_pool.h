// ThreadPool: a fixed set of worker threads that run one parallel loop at a time, with the
// calling thread taking part. Two shapes of loop:
//   run(n_tasks, f(task, thread))           tasks handed out through an atomic counter (dynamic
//                                           load balance: a slow or descheduled core takes fewer);
//   run_ranges(n, f(begin, end, thread))    [0, n) cut into size() contiguous ranges, one per
//                                           thread (range i belongs to thread i, so a thread keeps
//                                           touching the same rows call after call); a thread that
//                                           has not woken up by the time another finishes has its
//                                           range taken over, so a descheduled core on a shared
//                                           machine does not stall the loop.
//
// Wake-up: publishing a loop is a few atomic stores; workers spin (pause) for about
// kSpinMicros after their last loop, so back-to-back ops (several per layer) start without a
// syscall, and then sleep on a condition variable, so an idle pool costs nothing. The caller only
// touches the mutex when some worker is asleep. Nothing on the run path allocates.
//
// Thread-safety: run()/run_ranges() are called by one thread at a time (the backend's caller);
// f must be safe to call concurrently from every thread. thread ids are in [0, size()), the
// caller being 0; use them to index per-thread scratch.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace rapide::inference::cpu {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);  // total threads including the caller (>= 1)
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls f(task, thread) for every task in [0, n_tasks), spread over the threads. Returns when
  // all tasks are done. `work` is a rough cost of the whole loop (multiply-adds): loops below
  // kMinParallelWork run on the calling thread alone, since waking workers costs more than they
  // would save.
  static constexpr std::int64_t kMinParallelWork = 32 * 1024;
  template <class F>
  void run(std::int64_t n_tasks, F&& f, std::int64_t work = kMinParallelWork) {
    if (n_tasks <= 0) return;
    if (n_threads_ == 1 || n_tasks == 1 || work < kMinParallelWork) {
      for (std::int64_t t = 0; t < n_tasks; ++t) f(t, 0);
      return;
    }
    using Fn = std::remove_reference_t<F>;
    run_impl(Mode::TASKS, n_tasks, 1,
             [](void* ctx, std::int64_t a, std::int64_t, int thread) { (*static_cast<Fn*>(ctx))(a, thread); },
             const_cast<void*>(static_cast<const void*>(&f)));
  }

  // Calls f(begin, end, thread) once for each of the size() contiguous ranges of [0, n) (range i
  // = range(n, size(), i, align); empty ranges are skipped). Range boundaries are multiples of
  // `align` (the last range ends at n), e.g. the row-interleave factor of repacked weights.
  // Below kMinParallelWork (or with one thread) f(0, n, 0) runs on the caller.
  template <class F>
  void run_ranges(std::int64_t n, F&& f, std::int64_t work = kMinParallelWork, std::int64_t align = 1) {
    if (n <= 0) return;
    if (align < 1) align = 1;
    if (n_threads_ == 1 || n <= align || work < kMinParallelWork) {
      f(std::int64_t{0}, n, 0);
      return;
    }
    using Fn = std::remove_reference_t<F>;
    run_impl(Mode::RANGES, n, align,
             [](void* ctx, std::int64_t b, std::int64_t e, int thread) { (*static_cast<Fn*>(ctx))(b, e, thread); },
             const_cast<void*>(static_cast<const void*>(&f)));
  }

  struct Range {
    std::int64_t begin = 0, end = 0;
  };
  // Part `part` of [0, n) cut into n_parts contiguous ranges whose boundaries are multiples of
  // align (sizes differ by at most one align block).
  static Range range(std::int64_t n, int n_parts, int part, std::int64_t align = 1);

 private:
  enum class Mode : std::uint32_t { TASKS, RANGES };
  using TaskFn = void (*)(void* ctx, std::int64_t a, std::int64_t b, int thread);
  void run_impl(Mode mode, std::int64_t n, std::int64_t align, TaskFn fn, void* ctx);
  void execute(int thread);
  void worker_main(int thread);

  int n_threads_;
  std::vector<std::thread> workers_;

  // The current loop, written by the caller before it bumps generation_ (release) and read by
  // the workers after they see the new generation (acquire).
  Mode mode_ = Mode::TASKS;
  TaskFn fn_ = nullptr;
  void* ctx_ = nullptr;
  std::int64_t n_ = 0;
  std::int64_t align_ = 1;
  // RANGES: claimed_[i] holds the stamp of the ranges loop in which range i was taken (claimed
  // by CAS, so each range runs exactly once without resetting the flags between loops).
  std::uint64_t range_stamp_ = 0;
  std::unique_ptr<std::atomic<std::uint64_t>[]> claimed_;

  alignas(64) std::atomic<std::uint32_t> generation_{0};
  alignas(64) std::atomic<std::int64_t> next_task_{0};
  alignas(64) std::atomic<int> busy_workers_{0};
  alignas(64) std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
};

// Physical cores this process may use: distinct (physical id, core id) pairs of /proc/cpuinfo
// (SMT siblings counted once), at most the CPUs in this process's affinity mask; falls back to the
// logical CPU count. At least 1.
int physical_core_count();

}  // namespace rapide::inference::cpu
