// ThreadPool: a fixed set of worker threads that run one parallel loop at a time, with the
// calling thread taking part. Tasks are handed out through an atomic counter (dynamic load
// balance: a slow core takes fewer tasks). Workers spin briefly after a loop and then sleep on a
// condition variable, so back-to-back ops (one per layer) wake them without a syscall while an
// idle pool costs nothing. run() allocates nothing.
//
// Thread-safety: run() is called by one thread at a time (the backend's caller).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace rapide::inference::cpu {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);  // total threads including the caller (>= 1)
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls f(task, thread) for every task in [0, n_tasks), spread over the threads; thread is in
  // [0, size()) and identifies per-thread scratch. Returns when all tasks are done.
  // `work` is a rough cost of the whole loop (multiply-adds): loops below kMinParallelWork run
  // on the calling thread alone, since waking workers costs more than they would save.
  static constexpr std::int64_t kMinParallelWork = 32 * 1024;
  template <class F>
  void run(std::int64_t n_tasks, F&& f, std::int64_t work = kMinParallelWork) {
    if (n_tasks <= 0) return;
    if (n_threads_ == 1 || n_tasks == 1 || work < kMinParallelWork) {
      for (std::int64_t t = 0; t < n_tasks; ++t) f(t, 0);
      return;
    }
    using Fn = std::remove_reference_t<F>;
    run_impl(n_tasks, [](void* ctx, std::int64_t task, int thread) { (*static_cast<Fn*>(ctx))(task, thread); },
             const_cast<void*>(static_cast<const void*>(&f)));
  }

 private:
  using TaskFn = void (*)(void* ctx, std::int64_t task, int thread);
  void run_impl(std::int64_t n_tasks, TaskFn fn, void* ctx);
  void work(int thread);
  void worker_main(int thread);

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  std::atomic<std::int64_t> next_task_{0};
  std::atomic<int> busy_workers_{0};
  TaskFn fn_ = nullptr;
  void* ctx_ = nullptr;
  std::int64_t n_tasks_ = 0;
};

// Physical cores of this machine (logical CPUs / SMT siblings when known), at least 1.
int physical_core_count();

}  // namespace rapide::inference::cpu
