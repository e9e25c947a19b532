// Cost-aware draft length (see draft_cost.h).
#include "rapide/inference/engine/draft_cost.h"

#include <algorithm>
#include <cassert>

namespace rapide::inference::engine {

// ---- pass costs --------------------------------------------------------------------------------

PassCostModel::PassCostModel(int max_rows, double alpha, double prior_row_cost)
    : max_rows_(std::max(2, max_rows)),
      alpha_(std::clamp(alpha, 1e-3, 1.0)),
      prior_row_cost_(std::max(0.0, prior_row_cost)),
      ms_(static_cast<std::size_t>(max_rows_) + 1, 0.0),
      n_(static_cast<std::size_t>(max_rows_) + 1, 0) {}

void PassCostModel::observe(int rows, double ms) {
  if (rows < 1 || rows > max_rows_ || !(ms >= 0)) return;
  const auto r = static_cast<std::size_t>(rows);
  if (n_[r] == 0) {
    ms_[r] = ms;
  } else {
    const double x = std::min(ms, 4.0 * ms_[r]);
    ms_[r] += alpha_ * (x - ms_[r]);
  }
  ++n_[r];
}

bool PassCostModel::measured(int rows) const {
  return rows >= 1 && rows <= max_rows_ && n_[static_cast<std::size_t>(rows)] > 0;
}

std::int64_t PassCostModel::samples(int rows) const {
  return rows >= 1 && rows <= max_rows_ ? n_[static_cast<std::size_t>(rows)] : 0;
}

double PassCostModel::estimate(int rows) const {
  if (rows <= 0) return 0.0;
  if (measured(rows)) return ms_[static_cast<std::size_t>(rows)];
  const double one = measured(1) ? ms_[1] : 1.0;
  int lo = 0, hi = 0;
  for (int r = std::min(rows, max_rows_); r >= 1; --r)
    if (measured(r)) {
      lo = r;
      break;
    }
  for (int r = rows + 1; r <= max_rows_; ++r)
    if (measured(r)) {
      hi = r;
      break;
    }
  const auto at = [&](int r) { return ms_[static_cast<std::size_t>(r)]; };
  if (lo > 0 && hi > 0) {
    const double t = static_cast<double>(rows - lo) / static_cast<double>(hi - lo);
    return at(lo) + t * (at(hi) - at(lo));
  }
  if (lo > 0) return at(lo) + static_cast<double>(rows - lo) * prior_row_cost_ * one;
  if (hi > 0) return at(hi) * static_cast<double>(rows) / static_cast<double>(hi);
  return one * (1.0 + prior_row_cost_ * static_cast<double>(rows - 1));
}

// ---- acceptance --------------------------------------------------------------------------------

AcceptanceModel::AcceptanceModel(std::vector<double> prior_first, int max_pos, double prior_weight, double horizon)
    : prior_(std::move(prior_first)),
      max_pos_(std::max(1, max_pos)),
      prior_weight_(std::max(1e-6, prior_weight)),
      decay_(1.0 - 1.0 / std::max(1.0, horizon)) {
  if (prior_.empty()) prior_.push_back(0.5);
  for (double& p : prior_) p = std::clamp(p, 0.0, 1.0);
  const std::size_t cells = prior_.size() * static_cast<std::size_t>(max_pos_);
  reached_.assign(cells, 0.0);
  accepted_.assign(cells, 0.0);
  skipped_.assign(prior_.size(), 0);
}

int AcceptanceModel::clamp_class(int cls) const { return std::clamp(cls, 0, n_classes() - 1); }

void AcceptanceModel::observe(int cls, int drafted, int accepted) {
  if (drafted <= 0) return;
  accepted = std::clamp(accepted, 0, drafted);
  const std::size_t base = static_cast<std::size_t>(clamp_class(cls)) * static_cast<std::size_t>(max_pos_);
  // Positions 1..accepted were accepted; position accepted+1 (when drafted) was rejected.
  const int checked = std::min(drafted, accepted + 1);
  for (int pos = 1; pos <= checked; ++pos) {
    const std::size_t i = base + static_cast<std::size_t>(std::min(pos, max_pos_) - 1);
    reached_[i] = reached_[i] * decay_ + 1.0;
    accepted_[i] = accepted_[i] * decay_ + (pos <= accepted ? 1.0 : 0.0);
  }
}

double AcceptanceModel::prob(int cls, int pos) const {
  assert(pos >= 1);
  const std::size_t base = static_cast<std::size_t>(clamp_class(cls)) * static_cast<std::size_t>(max_pos_);
  double prior = prior_[static_cast<std::size_t>(clamp_class(cls))];
  double a = prior;
  for (int p = 1; p <= std::min(pos, max_pos_); ++p) {
    const std::size_t i = base + static_cast<std::size_t>(p - 1);
    a = (accepted_[i] + prior_weight_ * prior) / (reached_[i] + prior_weight_);
    prior = a;
  }
  return a;
}

double AcceptanceModel::expected_accepted(int cls, int k) const {
  double sum = 0, run = 1;
  const std::size_t base = static_cast<std::size_t>(clamp_class(cls)) * static_cast<std::size_t>(max_pos_);
  double prior = prior_[static_cast<std::size_t>(clamp_class(cls))];
  for (int pos = 1; pos <= k; ++pos) {
    double a = prior;
    if (pos <= max_pos_) {
      const std::size_t i = base + static_cast<std::size_t>(pos - 1);
      a = (accepted_[i] + prior_weight_ * prior) / (reached_[i] + prior_weight_);
    }
    prior = a;
    run *= a;
    sum += run;
  }
  return sum;
}

// ---- the choice --------------------------------------------------------------------------------

DraftChoice choose_draft_length(const PassCostModel& costs, AcceptanceModel& acceptance, int cls, int k_max,
                                int base_rows, double draft_token_ms, const DraftCostOptions& options) {
  DraftChoice best;
  best.ms = costs.estimate(base_rows + 1);
  if (k_max <= 0) return best;
  // Tokens per ms of the whole pass: other sequences' rows count as one token each.
  const double others = static_cast<double>(std::max(0, base_rows));
  const double plain_rate = best.ms > 0 ? (others + 1.0) / best.ms : 0.0;
  double best_rate = plain_rate;
  double run = 1, acc_sum = 0;
  for (int k = 1; k <= k_max; ++k) {
    run *= acceptance.prob(cls, k);
    acc_sum += run;
    const double tokens = 1.0 + acc_sum;
    const double ms = costs.estimate(base_rows + 1 + k) + static_cast<double>(k) * std::max(0.0, draft_token_ms);
    const double rate = ms > 0 ? (others + tokens) / ms : 0.0;
    if (rate > best_rate * (1.0 + options.margin)) {
      best_rate = rate;
      best.k = k;
      best.expected_tokens = tokens;
      best.ms = ms;
    }
  }
  best.gain = plain_rate > 0 ? best_rate / plain_rate : 1.0;
  int& skipped = acceptance.skipped(cls);
  if (best.k > 0) {
    skipped = 0;
    return best;
  }
  // Could any draft pay if it were always right?
  best.hopeless = true;
  for (int k = 1; k <= k_max && best.hopeless; ++k) {
    const double ms = costs.estimate(base_rows + 1 + k) + static_cast<double>(k) * std::max(0.0, draft_token_ms);
    if (ms > 0 && (others + static_cast<double>(1 + k)) / ms > plain_rate * (1.0 + options.margin)) best.hopeless = false;
  }
  if (!best.hopeless && options.explore_every > 0 && ++skipped >= options.explore_every) {
    skipped = 0;
    best.k = 1;
    best.explored = true;
    best.expected_tokens = 1.0 + acceptance.prob(cls, 1);
    best.ms = costs.estimate(base_rows + 2) + std::max(0.0, draft_token_ms);
  }
  return best;
}

// ---- engine state ------------------------------------------------------------------------------

namespace {
std::vector<double> ngram_priors() {
  // Class n = match length: a longer match is likelier to go on (n / (n + 1): 1 -> 0.5, 4 -> 0.8).
  std::vector<double> p(9);
  p[0] = 0.5;
  for (std::size_t n = 1; n < p.size(); ++n) p[n] = static_cast<double>(n) / static_cast<double>(n + 1);
  return p;
}
}  // namespace

DraftCostState::DraftCostState() : passes(), ngram(ngram_priors(), 32), draft({0.7}, 32), draft_passes(256) {}

}  // namespace rapide::inference::engine
