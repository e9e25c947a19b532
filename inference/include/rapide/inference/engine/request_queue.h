// Cancellation tokens, deadlines and the priority queue of waiting requests.
//
// CancelToken: a shared flag. Copies share the flag; any thread may cancel(), the engine's worker
// polls cancelled() between forward passes. Cheap (one atomic load).
//
// RequestQueue<T>: the waiting requests, ordered by priority (higher first), then deadline
// (earlier first; no deadline sorts last), then arrival (FIFO). Not thread-safe: the Engine keeps
// it under its mutex. Cancelled and expired entries are taken out by drain_dead() so their
// callers get an answer instead of waiting forever.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace rapide::inference::engine {

using Clock = std::chrono::steady_clock;

class CancelToken {
 public:
  CancelToken() : flag_(std::make_shared<std::atomic<bool>>(false)) {}
  void cancel() const { flag_->store(true, std::memory_order_release); }
  bool cancelled() const { return flag_->load(std::memory_order_acquire); }

 private:
  std::shared_ptr<std::atomic<bool>> flag_;
};

// Priorities used by the language server; any int works (higher runs first).
namespace priority {
inline constexpr int kBackground = 0;
inline constexpr int kCodeAction = 10;
inline constexpr int kHover = 20;
inline constexpr int kInlineCompletion = 30;
}  // namespace priority

template <class T>
class RequestQueue {
 public:
  struct Entry {
    int priority = 0;
    std::optional<Clock::time_point> deadline;
    CancelToken cancel;
    std::uint64_t seq = 0;  // arrival order
    T item;
  };

  void push(int priority_value, std::optional<Clock::time_point> deadline, CancelToken cancel, T item) {
    entries_.push_back(Entry{priority_value, deadline, std::move(cancel), next_seq_++, std::move(item)});
  }

  bool empty() const { return entries_.empty(); }
  std::size_t size() const { return entries_.size(); }

  // True when `a` should run before `b`.
  static bool before(const Entry& a, const Entry& b) {
    if (a.priority != b.priority) return a.priority > b.priority;
    if (a.deadline != b.deadline) {
      if (!a.deadline) return false;
      if (!b.deadline) return true;
      return *a.deadline < *b.deadline;
    }
    return a.seq < b.seq;
  }

  // Removes and returns the entry to run next (nullopt when empty). Dead entries are not skipped
  // here: call drain_dead() first.
  std::optional<Entry> pop() {
    if (entries_.empty()) return std::nullopt;
    auto it = std::min_element(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) { return before(a, b); });
    Entry e = std::move(*it);
    entries_.erase(it);
    return e;
  }

  // The best waiting entry, without removing it.
  const Entry* peek() const {
    if (entries_.empty()) return nullptr;
    return &*std::min_element(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) { return before(a, b); });
  }

  // Removes every cancelled entry and every entry whose deadline has passed; returns them with
  // `expired` telling which (false: cancelled).
  std::vector<std::pair<Entry, bool>> drain_dead(Clock::time_point now) {
    std::vector<std::pair<Entry, bool>> dead;
    auto keep = entries_.begin();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      const bool cancelled = it->cancel.cancelled();
      const bool expired = !cancelled && it->deadline && *it->deadline <= now;
      if (cancelled || expired) {
        dead.emplace_back(std::move(*it), expired);
      } else {
        if (keep != it) *keep = std::move(*it);
        ++keep;
      }
    }
    entries_.erase(keep, entries_.end());
    return dead;
  }

  // Earliest deadline among waiting entries (for the worker's wait).
  std::optional<Clock::time_point> earliest_deadline() const {
    std::optional<Clock::time_point> d;
    for (const Entry& e : entries_)
      if (e.deadline && (!d || *e.deadline < *d)) d = e.deadline;
    return d;
  }

  // Takes everything out (shutdown).
  std::vector<Entry> take_all() {
    std::vector<Entry> all = std::move(entries_);
    entries_.clear();
    return all;
  }

 private:
  std::vector<Entry> entries_;
  std::uint64_t next_seq_ = 0;
};

}  // namespace rapide::inference::engine
