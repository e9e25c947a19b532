// Counters and latency figures of the server, read by `rapide/metrics` and `rapide/status`.
// All members are atomics or mutex-guarded: any thread may record.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

namespace rapide::lsp {

// The last N latencies of one kind, with p50/p99 over them.
class LatencyWindow {
 public:
  explicit LatencyWindow(std::size_t capacity = 256) : capacity_(capacity) {}
  void record(double ms);
  nlohmann::json to_json() const;  // {"count", "last_ms", "p50_ms", "p99_ms"}
  double last_ms() const;

 private:
  mutable std::mutex mutex_;
  std::deque<double> values_;
  std::size_t capacity_;
  std::uint64_t count_ = 0;
};

struct Metrics {
  std::atomic<std::uint64_t> messages_received{0};
  std::atomic<std::uint64_t> requests_received{0};
  std::atomic<std::uint64_t> notifications_received{0};
  std::atomic<std::uint64_t> errors_sent{0};
  std::atomic<std::uint64_t> framing_errors{0};
  std::atomic<std::uint64_t> document_changes{0};
  // Inline completions: requested, debounced away before starting, started, cancelled while
  // running, finished (computed to the end), answered from the typed-ahead cache.
  std::atomic<std::uint64_t> inline_requested{0};
  std::atomic<std::uint64_t> inline_debounced{0};
  std::atomic<std::uint64_t> inline_started{0};
  std::atomic<std::uint64_t> inline_cancelled{0};
  std::atomic<std::uint64_t> inline_finished{0};
  std::atomic<std::uint64_t> inline_cache_hits{0};
  std::atomic<std::uint64_t> inline_joined{0};  // served by an in-flight generation it extends
  std::atomic<std::uint64_t> inline_prefetched{0};  // completions computed ahead (prefetch, warming)
  std::atomic<std::uint64_t> inline_warmed{0};      // didShow/didPartiallyAccept notifications that warmed
  // Hovers: computed (the job ran), dropped before running (superseded by a newer hover, the
  // document changed, cancelled), answers cut at the time budget.
  std::atomic<std::uint64_t> hover_cache_hits{0};
  std::atomic<std::uint64_t> hover_started{0};
  std::atomic<std::uint64_t> hover_dropped{0};
  std::atomic<std::uint64_t> hover_cut_at_budget{0};
  LatencyWindow inline_latency;
  LatencyWindow hover_latency;
  LatencyWindow code_action_latency;

  nlohmann::json to_json() const;
};

}  // namespace rapide::lsp
