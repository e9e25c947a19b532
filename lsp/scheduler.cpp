#include "rapide/lsp/scheduler.h"

#include <algorithm>

namespace rapide::lsp {

std::string uri_to_path(const std::string& uri) {
  static constexpr std::string_view scheme = "file://";
  if (uri.rfind(scheme, 0) != 0) return uri;
  std::string out;
  for (std::size_t i = scheme.size(); i < uri.size(); ++i) {
    const auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    if (uri[i] == '%' && i + 2 < uri.size() && hex(uri[i + 1]) >= 0 && hex(uri[i + 2]) >= 0) {
      out += static_cast<char>(hex(uri[i + 1]) * 16 + hex(uri[i + 2]));
      i += 2;
    } else {
      out += uri[i];
    }
  }
  return out;
}

Scheduler::Scheduler(EventLoop& loop, SchedulerOptions options, Metrics& metrics)
    : loop_(loop), options_(std::move(options)), metrics_(metrics), workspace_(std::make_unique<context::Workspace>(options_.workspace)) {
  running_.resize(static_cast<std::size_t>(std::max(0, options_.worker_threads)));
  for (std::size_t i = 0; i < running_.size(); ++i) workers_.emplace_back([this, i] { worker_main(i); });
}

Scheduler::~Scheduler() {
  std::vector<Task> left;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (auto& e : queue_.take_all()) left.push_back(std::move(e.item));
    for (auto& t : running_)
      if (t) t->cancel();
  }
  cv_.notify_all();
  for (auto& w : workers_) w.join();
  for (auto& [uri, s] : docs_) {
    if (s.debounce_timer) loop_.cancel_timer(*s.debounce_timer);
    if (s.waiting) left.push_back(std::move(*s.waiting));
  }
  for (auto& t : left) {
    t.cancel.cancel();
    if (t.dropped) t.dropped();
  }
}

void Scheduler::open(const std::string& uri, const std::string& language_id, std::string text, std::int64_t version) {
  auto it = docs_.find(uri);
  if (it != docs_.end()) cancel_debounced(it->second);
  DocState& s = docs_[uri];
  s.path = uri_to_path(uri);
  workspace_->open(s.path, language_id, std::move(text), version);
}

Status Scheduler::change(const std::string& uri, std::int64_t version,
                         const std::vector<context::TextChange>& changes, PositionEncoding enc) {
  auto it = docs_.find(uri);
  if (it == docs_.end()) return error("document '", uri, "' is not open (didChange before didOpen?)");
  DocState& s = it->second;
  // The workspace publishes a new immutable snapshot: those held by workers stay valid.
  context::Status st = workspace_->change(s.path, changes, enc, version);
  if (!st) return error(st.message());
  s.typing.record_change(SteadyClock::now());
  metrics_.document_changes.fetch_add(1);
  cancel_debounced(s);  // the text it was computed for is gone
  return {};
}

bool Scheduler::close(const std::string& uri) {
  auto it = docs_.find(uri);
  if (it == docs_.end()) return false;
  cancel_debounced(it->second);
  workspace_->close(it->second.path);
  docs_.erase(it);
  return true;
}

DocumentSnapshot Scheduler::snapshot(const std::string& uri) const {
  auto it = docs_.find(uri);
  if (it == docs_.end()) return nullptr;
  return workspace_->snapshot(it->second.path);
}

void Scheduler::cancel_debounced(DocState& s) {
  if (s.debounce_timer) {
    loop_.cancel_timer(*s.debounce_timer);
    s.debounce_timer.reset();
  }
  if (s.debounced_cancel) {
    s.debounced_cancel->cancel();
    s.debounced_cancel.reset();
  }
  if (s.waiting) {
    Task t = std::move(*s.waiting);
    s.waiting.reset();
    metrics_.inline_debounced.fetch_add(1);
    if (t.dropped) t.dropped();
  }
}

void Scheduler::schedule_debounced(const std::string& uri, Task task) {
  auto it = docs_.find(uri);
  if (it == docs_.end()) return schedule(std::move(task));
  DocState& s = it->second;
  cancel_debounced(s);
  s.debounced_cancel = task.cancel;
  const auto delay = options_.debounce.delay(s.typing);
  if (delay.count() == 0) return schedule(std::move(task));
  s.waiting = std::move(task);
  s.debounce_timer = loop_.post_after(delay, [this, uri] {
    auto it2 = docs_.find(uri);
    if (it2 == docs_.end() || !it2->second.waiting) return;
    it2->second.debounce_timer.reset();
    Task t = std::move(*it2->second.waiting);
    it2->second.waiting.reset();
    schedule(std::move(t));
  });
}

void Scheduler::track(const std::string& uri, CancelToken cancel) {
  auto it = docs_.find(uri);
  if (it == docs_.end()) return;
  cancel_debounced(it->second);
  it->second.debounced_cancel = std::move(cancel);
}

void Scheduler::schedule(Task task) {
  if (task.cancel.cancelled()) {
    if (task.dropped) task.dropped();
    return;
  }
  if (synchronous()) {
    task.run();
    return;
  }
  {
    std::lock_guard lock(mutex_);
    const int prio = task.priority;
    CancelToken tok = task.cancel;
    queue_.push(prio, std::nullopt, std::move(tok), std::move(task));
  }
  cv_.notify_one();
}

void Scheduler::worker_main(std::size_t index) {
  for (;;) {
    Task task;
    std::vector<Task> dead;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      for (auto& [e, expired] : queue_.drain_dead(SteadyClock::now())) dead.push_back(std::move(e.item));
      auto next = queue_.pop();
      if (next) {
        task = std::move(next->item);
        running_[index] = task.cancel;
      }
    }
    for (auto& d : dead)
      if (d.dropped) loop_.post(std::move(d.dropped));
    if (!task.run) continue;
    if (task.cancel.cancelled()) {  // cancelled since drain_dead: dropped, never run (contract)
      if (task.dropped) loop_.post(std::move(task.dropped));
      std::lock_guard lock(mutex_);
      running_[index].reset();
      continue;
    }
    task.run();
    std::lock_guard lock(mutex_);
    running_[index].reset();
  }
}

void Scheduler::record_latency(const std::string& uri, double ms) {
  loop_.post([this, uri, ms] {
    auto it = docs_.find(uri);
    if (it != docs_.end()) it->second.typing.record_latency(ms);
  });
}

std::chrono::milliseconds Scheduler::current_delay(const std::string& uri) const {
  auto it = docs_.find(uri);
  return it == docs_.end() ? options_.debounce.delay(TypingStats{}) : options_.debounce.delay(it->second.typing);
}

void Scheduler::drop_cancelled() {
  for (auto& [uri, s] : docs_) {
    if (!s.waiting || !s.waiting->cancel.cancelled()) continue;
    if (s.debounce_timer) {
      loop_.cancel_timer(*s.debounce_timer);
      s.debounce_timer.reset();
    }
    Task t = std::move(*s.waiting);
    s.waiting.reset();
    if (t.dropped) t.dropped();
  }
  std::vector<Task> dead;
  {
    std::lock_guard lock(mutex_);
    for (auto& [e, expired] : queue_.drain_dead(SteadyClock::now())) dead.push_back(std::move(e.item));
  }
  for (auto& t : dead)
    if (t.dropped) t.dropped();
}

void Scheduler::cancel_all() {
  for (auto& [uri, s] : docs_) cancel_debounced(s);
  std::vector<Task> left;
  {
    std::lock_guard lock(mutex_);
    for (auto& e : queue_.take_all()) left.push_back(std::move(e.item));
    for (auto& t : running_)
      if (t) t->cancel();
  }
  for (auto& t : left) {
    t.cancel.cancel();
    if (t.dropped) t.dropped();
  }
}

}  // namespace rapide::lsp
