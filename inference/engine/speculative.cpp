// N-gram drafter, adaptive draft length and the acceptance rule (see speculative.h).
#include "rapide/inference/engine/speculative.h"

#include <algorithm>
#include <cassert>

namespace rapide::inference::engine {

AdaptiveDraftLength::AdaptiveDraftLength(int min_len, int max_len, int initial)
    : min_(std::max(0, min_len)), max_(std::max(min_, max_len)), k_(std::clamp(initial, min_, max_)) {}

void AdaptiveDraftLength::update(int drafted, int accepted) {
  if (drafted <= 0) return;
  if (accepted >= drafted) {
    // The whole draft went through: the drafter was limited by our length, not by its knowledge.
    if (drafted >= k_) k_ = std::min(max_, k_ + std::max(2, k_ / 2));
  } else {
    // Rejected at position accepted+1: a little more than what was accepted is the best guess,
    // but never collapse below half of the current length in one step.
    k_ = std::clamp(std::max(accepted + 1, k_ / 2), min_, max_);
  }
}

NgramDrafter::NgramDrafter(NgramOptions options)
    : options_(options), length_(options.min_draft, options.max_draft, options.initial_draft) {
  options_.min_ngram = std::max(1, options_.min_ngram);
  options_.max_ngram = std::max(options_.min_ngram, options_.max_ngram);
}

void NgramDrafter::set_sources(std::vector<std::vector<std::int32_t>> sources) { sources_ = std::move(sources); }

namespace {
// Longest match (up to max_n) of the suffix of `key` ending at `hay[p]`, for every p that leaves
// at least one continuation token (p + 1 < limit). Scans from the end; ties keep the most recent.
void scan(std::span<const std::int32_t> hay, std::size_t limit, std::span<const std::int32_t> key, int max_n,
          int source, NgramDrafter::Match& best) {
  if (key.empty() || limit < 2) return;
  const std::int32_t last = key.back();
  const std::size_t kn = key.size();
  for (std::size_t p = limit - 1; p-- > 0;) {
    if (hay[p] != last) continue;
    int n = 1;
    while (n < max_n && static_cast<std::size_t>(n) <= p && static_cast<std::size_t>(n) < kn &&
           hay[p - static_cast<std::size_t>(n)] == key[kn - 1 - static_cast<std::size_t>(n)])
      ++n;
    if (n > best.n) {
      best.n = n;
      best.source = source;
      best.continuation = p + 1;
      if (n >= max_n) return;
    }
  }
}
}  // namespace

NgramDrafter::Match NgramDrafter::find_match(std::span<const std::int32_t> tokens) const {
  Match best;
  if (tokens.empty()) return best;
  const std::span<const std::int32_t> key = tokens.last(std::min<std::size_t>(tokens.size(), static_cast<std::size_t>(options_.max_ngram)));
  // The sequence itself: occurrences ending before the last token.
  scan(tokens, tokens.size(), key, options_.max_ngram, -1, best);
  for (std::size_t s = 0; s < sources_.size() && best.n < options_.max_ngram; ++s) {
    Match m;
    scan(sources_[s], sources_[s].size(), key, options_.max_ngram, static_cast<int>(s), m);
    if (m.n > best.n) best = m;
  }
  if (best.n < options_.min_ngram) best = Match{};
  return best;
}

std::size_t NgramDrafter::available(std::span<const std::int32_t> tokens, const Match& m) const {
  if (m.n == 0) return 0;
  const std::size_t size = m.source < 0 ? tokens.size() : sources_[static_cast<std::size_t>(m.source)].size();
  return size > m.continuation ? size - m.continuation : 0;
}

std::vector<std::int32_t> NgramDrafter::continuation(std::span<const std::int32_t> tokens, const Match& m,
                                                     int len) const {
  std::vector<std::int32_t> out;
  if (m.n == 0 || len <= 0) return out;
  std::span<const std::int32_t> seq = m.source < 0 ? tokens : std::span<const std::int32_t>(sources_[static_cast<std::size_t>(m.source)]);
  const std::size_t end = std::min(seq.size(), m.continuation + static_cast<std::size_t>(len));
  if (m.continuation < end) out.assign(seq.begin() + static_cast<std::ptrdiff_t>(m.continuation), seq.begin() + static_cast<std::ptrdiff_t>(end));
  return out;
}

std::vector<std::int32_t> NgramDrafter::draft(std::span<const std::int32_t> tokens, int limit) const {
  const Match m = find_match(tokens);
  if (m.n == 0) return {};
  int len = std::min(limit, length_.value());
  if (options_.long_match_ngram > 0 && m.n >= options_.long_match_ngram) len = std::min(limit, options_.max_draft);
  if (m.n < options_.confident_ngram) len = std::min(len, options_.short_match_draft);
  return continuation(tokens, m, len);
}

AcceptDecision accept_or_replace(std::span<const TokenProb> p, std::span<const TokenProb> q, std::int32_t drafted,
                                 Rng& rng) {
  assert(!p.empty());
  if (p.size() == 1) {  // one-hot target (greedy): exact comparison, no randomness used
    return {p[0].id == drafted, p[0].id};
  }
  // q sorted by id for lookups (p may cover the whole vocabulary).
  std::vector<TokenProb> qs(q.begin(), q.end());
  std::sort(qs.begin(), qs.end(), [](const TokenProb& a, const TokenProb& b) { return a.id < b.id; });
  auto q_of = [&](std::int32_t id) -> double {
    if (q.empty()) return id == drafted ? 1.0 : 0.0;
    auto it = std::lower_bound(qs.begin(), qs.end(), id, [](const TokenProb& a, std::int32_t v) { return a.id < v; });
    return it != qs.end() && it->id == id ? it->p : 0.0;
  };
  double pd = 0.0;
  for (const TokenProb& tp : p)
    if (tp.id == drafted) pd = tp.p;
  const double qd = q_of(drafted);
  const double u = rng.uniform();
  if (qd > 0 && u < pd / qd) return {true, drafted};
  // Residual max(0, p - q), over the target's support (outside it p - q <= 0).
  std::vector<TokenProb> residual;
  residual.reserve(p.size());
  double mass = 0;
  for (const TokenProb& tp : p) {
    const double qv = q_of(tp.id);
    const double r = static_cast<double>(tp.p) - qv;
    if (r > 0) {
      residual.push_back({tp.id, static_cast<float>(r)});
      mass += r;
    }
  }
  if (residual.empty() || !(mass > 0)) return {false, draw_token(p, rng)};  // p == q up to rounding
  return {false, draw_token(residual, rng)};
}

}  // namespace rapide::inference::engine
