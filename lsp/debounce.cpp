#include "rapide/lsp/debounce.h"

#include <algorithm>
#include <cmath>

namespace rapide::lsp {
namespace {
constexpr double kAlpha = 0.25;
constexpr double kPauseMs = 2000.0;
double ema(std::optional<double> old, double x) { return old ? (1 - kAlpha) * *old + kAlpha * x : x; }
}  // namespace

void TypingStats::record_change(SteadyClock::time_point now) {
  if (last_change) {
    const double ms = std::chrono::duration<double, std::milli>(now - *last_change).count();
    if (ms < kPauseMs) {
      if (interval_ms) deviation_ms = (1 - kAlpha) * deviation_ms + kAlpha * std::abs(ms - *interval_ms);
      interval_ms = ema(interval_ms, ms);
    }
  }
  last_change = now;
}

void TypingStats::record_latency(double ms) { latency_ms = ema(latency_ms, ms); }

std::chrono::milliseconds DebouncePolicy::delay(const TypingStats& stats) const {
  switch (kind_) {
    case Kind::none:
      return std::chrono::milliseconds(0);
    case Kind::fixed:
      return std::chrono::milliseconds(min_ms_);
    case Kind::adaptive:
      break;
  }
  const auto lo = static_cast<double>(min_ms_), hi = static_cast<double>(max_ms_);
  double d = stats.interval_ms ? *stats.interval_ms + 4 * stats.deviation_ms : lo;
  if (stats.latency_ms) d = std::max(d, *stats.latency_ms / 4);
  d = std::clamp(d, lo, hi);
  return std::chrono::milliseconds(static_cast<long long>(d));
}

std::string DebouncePolicy::describe() const {
  switch (kind_) {
    case Kind::none:
      return "none";
    case Kind::fixed:
      return "fixed(" + std::to_string(min_ms_) + " ms)";
    case Kind::adaptive:
      break;
  }
  return "adaptive(" + std::to_string(min_ms_) + ".." + std::to_string(max_ms_) + " ms)";
}

}  // namespace rapide::lsp
