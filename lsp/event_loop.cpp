#include "rapide/lsp/event_loop.h"

#include "asio_loop.h"

#include <boost/asio/post.hpp>

namespace rapide::lsp {

EventLoop::EventLoop() : impl_(std::make_unique<Impl>()), loop_thread_(std::this_thread::get_id()) {}
EventLoop::~EventLoop() = default;

void EventLoop::post(std::function<void()> fn) { boost::asio::post(impl_->io, std::move(fn)); }

EventLoop::TimerId EventLoop::post_after(std::chrono::milliseconds delay, std::function<void()> fn) {
  const TimerId id = impl_->next_timer++;
  auto timer = std::make_unique<boost::asio::steady_timer>(impl_->io, delay);
  timer->async_wait([this, id, fn = std::move(fn)](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled
    impl_->timers.erase(id);
    fn();
  });
  impl_->timers.emplace(id, std::move(timer));
  return id;
}

void EventLoop::cancel_timer(TimerId id) {
  const auto it = impl_->timers.find(id);
  if (it == impl_->timers.end()) return;
  it->second->cancel();
  // Keep the timer object alive until its handler ran with operation_aborted.
  auto* raw = it->second.release();
  impl_->timers.erase(it);
  boost::asio::post(impl_->io, [raw] { delete raw; });
}

void EventLoop::run() {
  loop_thread_ = std::this_thread::get_id();
  impl_->io.restart();
  impl_->io.run();
}

void EventLoop::run_until_idle() {
  loop_thread_ = std::this_thread::get_id();
  impl_->io.restart();
  while (impl_->io.poll() > 0) {
  }
}

void EventLoop::stop() { impl_->io.stop(); }
bool EventLoop::stopped() const { return impl_->io.stopped(); }

}  // namespace rapide::lsp
