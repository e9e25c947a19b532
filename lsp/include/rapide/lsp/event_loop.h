// The server's one I/O thread: an event loop (Boost.Asio io_context underneath, kept out of
// this header). Protocol handling, document state and replies all happen on it; anything slow
// is handed to workers or the engine, whose results come back through post().
//
// post() is thread-safe; timers are created and cancelled on the loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

namespace rapide::lsp {

class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  using TimerId = std::uint64_t;

  // Runs fn on the loop thread (later, never inline). Thread-safe.
  void post(std::function<void()> fn);
  // Runs fn on the loop thread after `delay` unless cancelled first. Loop thread only.
  TimerId post_after(std::chrono::milliseconds delay, std::function<void()> fn);
  void cancel_timer(TimerId id);

  // Runs handlers on the calling thread (which becomes the loop thread) until stop().
  void run();
  // Runs ready handlers until none is left (tests: deterministic, timers due later stay queued).
  void run_until_idle();
  // Makes run() return; thread-safe.
  void stop();
  bool stopped() const;

  bool on_loop_thread() const { return std::this_thread::get_id() == loop_thread_; }

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
  std::thread::id loop_thread_;
};

}  // namespace rapide::lsp
