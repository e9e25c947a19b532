// Debounce policies: how long the scheduler waits after an inline-completion request before
// starting work, so that a burst of keystrokes costs one computation.
//
//   none()      0 ms: start at once (synchronous tests)
//   fixed(d)    always d
//   adaptive()  from the document's typing rhythm and the measured completion latency:
//               delay = clamp(1.25 x typing interval, min, max), lowered to the measured latency
//               (never below min) when computing is cheaper than waiting: a fast model or cache
//               does not need a long wait, a slow one should not be started on every keystroke.
//               Typing interval and latency are exponential moving averages (alpha 0.3);
//               pauses longer than 2 s are not typing and are ignored.
//
// Value type, no threads. TypingStats is per document, owned by the scheduler's loop thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace rapide::lsp {

using SteadyClock = std::chrono::steady_clock;

struct TypingStats {
  std::optional<SteadyClock::time_point> last_change;
  std::optional<double> interval_ms;  // EMA of the time between changes while typing
  std::optional<double> latency_ms;   // EMA of completion compute time

  void record_change(SteadyClock::time_point now);
  void record_latency(double ms);
};

class DebouncePolicy {
 public:
  static DebouncePolicy none() { return DebouncePolicy(Kind::none, 0, 0); }
  static DebouncePolicy fixed(std::chrono::milliseconds d) { return DebouncePolicy(Kind::fixed, d.count(), d.count()); }
  static DebouncePolicy adaptive(std::chrono::milliseconds min = std::chrono::milliseconds(20),
                                 std::chrono::milliseconds max = std::chrono::milliseconds(250)) {
    return DebouncePolicy(Kind::adaptive, min.count(), max.count());
  }

  std::chrono::milliseconds delay(const TypingStats& stats) const;
  std::string describe() const;  // "adaptive(20..250 ms)"

 private:
  enum class Kind { none, fixed, adaptive };
  DebouncePolicy(Kind k, long long min_ms, long long max_ms) : kind_(k), min_ms_(min_ms), max_ms_(max_ms) {}
  Kind kind_;
  long long min_ms_;
  long long max_ms_;
};

}  // namespace rapide::lsp
