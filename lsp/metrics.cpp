#include "rapide/lsp/metrics.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace rapide::lsp {

void LatencyWindow::record(double ms) {
  std::lock_guard lock(mutex_);
  values_.push_back(ms);
  if (values_.size() > capacity_) values_.pop_front();
  ++count_;
}

double LatencyWindow::last_ms() const {
  std::lock_guard lock(mutex_);
  return values_.empty() ? 0.0 : values_.back();
}

nlohmann::json LatencyWindow::to_json() const {
  std::lock_guard lock(mutex_);
  nlohmann::json j = {{"count", count_}};
  if (values_.empty()) return j;
  std::vector<double> v(values_.begin(), values_.end());
  std::sort(v.begin(), v.end());
  auto pct = [&v](double p) {
    const auto i = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1;
    return v[std::min(i, v.size() - 1)];
  };
  j["last_ms"] = values_.back();
  j["p50_ms"] = pct(0.50);
  j["p99_ms"] = pct(0.99);
  return j;
}

nlohmann::json Metrics::to_json() const {
  return {
      {"messagesReceived", messages_received.load()},
      {"requestsReceived", requests_received.load()},
      {"notificationsReceived", notifications_received.load()},
      {"errorsSent", errors_sent.load()},
      {"framingErrors", framing_errors.load()},
      {"documentChanges", document_changes.load()},
      {"inlineCompletion",
       {{"requested", inline_requested.load()},
        {"debounced", inline_debounced.load()},
        {"started", inline_started.load()},
        {"cancelled", inline_cancelled.load()},
        {"finished", inline_finished.load()},
        {"cacheHits", inline_cache_hits.load()},
        {"joined", inline_joined.load()},
        {"prefetched", inline_prefetched.load()},
        {"warmed", inline_warmed.load()},
        {"latency", inline_latency.to_json()}}},
      {"hover",
       {{"cacheHits", hover_cache_hits.load()},
        {"started", hover_started.load()},
        {"dropped", hover_dropped.load()},
        {"cutAtBudget", hover_cut_at_budget.load()},
        {"latency", hover_latency.to_json()}}},
      {"codeAction", {{"latency", code_action_latency.to_json()}}},
  };
}

}  // namespace rapide::lsp
