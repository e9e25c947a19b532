// Debounce policies: how long the scheduler waits after an inline-completion request before
// starting work, so that a burst of keystrokes costs one computation.
//
//   none()      0 ms: start at once (synchronous tests)
//   fixed(d)    always d
//   adaptive()  from the document's typing rhythm and the measured completion latency, the way
//               TCP sizes its retransmission timer: wait for the typing interval plus four times
//               its mean deviation, so that during a burst the next keystroke nearly always
//               arrives before the timer (one computation per burst, even with jittery typing);
//               then at least a quarter of the measured completion latency (an expensive
//               completion is worth a slightly longer wait before starting it):
//                 delay = clamp(max(interval + 4 x deviation, latency / 4), min, max)
//               Interval, deviation and latency are exponential moving averages (alpha 1/4 for
//               the interval and latency, 1/4 for the deviation); pauses longer than 2 s are not
//               typing and are ignored. No history: min.
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
  double deviation_ms = 0;            // EMA of |interval - interval_ms|
  std::optional<double> latency_ms;   // EMA of completion compute time

  void record_change(SteadyClock::time_point now);
  void record_latency(double ms);
};

class DebouncePolicy {
 public:
  static DebouncePolicy none() { return DebouncePolicy(Kind::none, 0, 0); }
  static DebouncePolicy fixed(std::chrono::milliseconds d) { return DebouncePolicy(Kind::fixed, d.count(), d.count()); }
  static DebouncePolicy adaptive(std::chrono::milliseconds min = std::chrono::milliseconds(30),
                                 std::chrono::milliseconds max = std::chrono::milliseconds(300)) {
    return DebouncePolicy(Kind::adaptive, min.count(), max.count());
  }

  std::chrono::milliseconds delay(const TypingStats& stats) const;
  std::string describe() const;  // "adaptive(30..300 ms)"

 private:
  enum class Kind { none, fixed, adaptive };
  DebouncePolicy(Kind k, long long min_ms, long long max_ms) : kind_(k), min_ms_(min_ms), max_ms_(max_ms) {}
  Kind kind_;
  long long min_ms_;
  long long max_ms_;
};

}  // namespace rapide::lsp
