// Sampling pipeline and stop strings (see sampling.h for the order of the steps).
#include "rapide/inference/engine/sampling.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

namespace rapide::inference::engine {

Status SamplingParams::validate(std::int32_t n_vocab) const {
  if (!std::isfinite(temperature)) return error("sampling: temperature must be finite, got ", temperature);
  if (!(top_p > 0.0f)) return error("sampling: top_p must be in (0, 1], got ", top_p);
  if (!(min_p >= 0.0f && min_p <= 1.0f)) return error("sampling: min_p must be in [0, 1], got ", min_p);
  if (!(repetition_penalty > 0.0f) || !std::isfinite(repetition_penalty))
    return error("sampling: repetition_penalty must be > 0, got ", repetition_penalty);
  if (!std::isfinite(presence_penalty) || !std::isfinite(frequency_penalty))
    return error("sampling: presence/frequency penalties must be finite");
  for (const auto& [id, bias] : logit_bias) {
    if (id < 0 || id >= n_vocab)
      return error("sampling: logit bias for token ", id, " outside the vocabulary [0, ", n_vocab, ")");
    if (std::isnan(bias)) return error("sampling: logit bias for token ", id, " is NaN");
  }
  return {};
}

// ---- RNG -------------------------------------------------------------------------------------

namespace {
std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

Rng::Rng(std::uint64_t seed) {
  std::uint64_t x = seed;
  for (auto& s : s_) s = splitmix64(x);
}

std::uint64_t Rng::next() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

// ---- Sampler ---------------------------------------------------------------------------------

Sampler::Sampler(SamplingParams params, std::int32_t n_vocab)
    : params_(std::move(params)), n_vocab_(n_vocab), rng_(params_.seed) {}

void Sampler::transform(std::span<float> logits, std::span<const std::int32_t> history) const {
  assert(static_cast<std::int32_t>(logits.size()) == n_vocab_);
  for (const auto& [id, bias] : params_.logit_bias)
    if (id >= 0 && id < n_vocab_) logits[static_cast<std::size_t>(id)] += bias;

  const bool rep = params_.repetition_penalty != 1.0f;
  const bool pres = params_.presence_penalty != 0.0f || params_.frequency_penalty != 0.0f;
  if ((!rep && !pres) || history.empty() || params_.penalty_last_n == 0) return;
  std::size_t window = history.size();
  if (params_.penalty_last_n > 0) window = std::min(window, static_cast<std::size_t>(params_.penalty_last_n));
  // Counts over the window; small windows, so a sorted vector beats a hash map.
  std::vector<std::int32_t> ids(history.end() - static_cast<std::ptrdiff_t>(window), history.end());
  std::sort(ids.begin(), ids.end());
  for (std::size_t i = 0; i < ids.size();) {
    std::size_t j = i;
    while (j < ids.size() && ids[j] == ids[i]) ++j;
    const std::int32_t id = ids[i];
    const float count = static_cast<float>(j - i);
    i = j;
    if (id < 0 || id >= n_vocab_) continue;
    float& l = logits[static_cast<std::size_t>(id)];
    if (rep) l = l > 0 ? l / params_.repetition_penalty : l * params_.repetition_penalty;
    if (pres) l -= params_.presence_penalty + count * params_.frequency_penalty;
  }
}

namespace {
std::int32_t argmax_of(std::span<const float> v) {
  std::int32_t best = 0;
  float best_v = -std::numeric_limits<float>::infinity();
  bool any = false;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!any || v[i] > best_v) {  // NaN never wins
      if (std::isnan(v[i])) continue;
      best_v = v[i];
      best = static_cast<std::int32_t>(i);
      any = true;
    }
  }
  return best;
}
}  // namespace

std::int32_t Sampler::argmax(std::span<const float> logits, std::span<const std::int32_t> history) const {
  const bool needs_transform = !params_.logit_bias.empty() || params_.repetition_penalty != 1.0f ||
                               params_.presence_penalty != 0.0f || params_.frequency_penalty != 0.0f;
  if (!needs_transform) return argmax_of(logits);
  scratch_.assign(logits.begin(), logits.end());
  transform(scratch_, history);
  return argmax_of(scratch_);
}

void Sampler::distribution(std::span<const float> logits, std::span<const std::int32_t> history,
                           std::vector<TokenProb>& out) const {
  out.clear();
  if (params_.greedy()) {
    out.push_back({argmax(logits, history), 1.0f});
    return;
  }
  scratch_.assign(logits.begin(), logits.end());
  transform(scratch_, history);

  // Softmax at temperature 1 over finite logits.
  float max_l = -std::numeric_limits<float>::infinity();
  for (float l : scratch_)
    if (l > max_l) max_l = l;
  if (!std::isfinite(max_l)) {  // everything banned or NaN: fall back to the raw argmax
    out.push_back({argmax_of(logits), 1.0f});
    return;
  }
  auto& d = dist_;
  d.clear();
  double sum = 0;
  for (std::size_t i = 0; i < scratch_.size(); ++i) {
    const float l = scratch_[i];
    if (!(l > -std::numeric_limits<float>::infinity())) continue;  // banned or NaN
    const float p = std::exp(l - max_l);
    d.push_back({static_cast<std::int32_t>(i), p});
    sum += p;
  }
  // Sort by probability (descending), ties by id, for a deterministic order.
  auto by_p = [](const TokenProb& a, const TokenProb& b) { return a.p > b.p || (a.p == b.p && a.id < b.id); };
  std::size_t keep = d.size();
  if (params_.top_k > 0 && static_cast<std::size_t>(params_.top_k) < keep) {
    keep = static_cast<std::size_t>(params_.top_k);
    std::partial_sort(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(keep), d.end(), by_p);
  } else {
    std::sort(d.begin(), d.end(), by_p);
  }
  // top-p: the smallest prefix whose mass reaches top_p (of the full softmax).
  if (params_.top_p < 1.0f) {
    double cum = 0;
    for (std::size_t i = 0; i < keep; ++i) {
      cum += d[i].p / sum;
      if (cum >= params_.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  // min-p: relative to the most probable token.
  if (params_.min_p > 0.0f) {
    const float threshold = d[0].p * params_.min_p;
    std::size_t k = 1;
    while (k < keep && d[k].p >= threshold) ++k;
    keep = k;
  }
  d.resize(std::max<std::size_t>(keep, 1));
  // Temperature on the survivors: p ∝ exp((l - max) / T) = p1^(1/T).
  const double inv_t = 1.0 / params_.temperature;
  double z = 0;
  out.reserve(d.size());
  for (const TokenProb& tp : d) {
    const double l = static_cast<double>(scratch_[static_cast<std::size_t>(tp.id)]) - max_l;
    const double p = std::exp(l * inv_t);
    out.push_back({tp.id, static_cast<float>(p)});
    z += p;
  }
  for (TokenProb& tp : out) tp.p = static_cast<float>(tp.p / z);
}

std::int32_t Sampler::sample(std::span<const float> logits, std::span<const std::int32_t> history) {
  if (params_.greedy()) return argmax(logits, history);
  std::vector<TokenProb> dist;
  distribution(logits, history, dist);
  return draw(dist);
}

std::int32_t Sampler::draw(std::span<const TokenProb> dist) { return draw_token(dist, rng_); }

std::int32_t draw_token(std::span<const TokenProb> dist, Rng& rng) {
  assert(!dist.empty());
  double total = 0;
  for (const TokenProb& tp : dist) total += tp.p;
  const double u = rng.uniform() * total;
  double cum = 0;
  for (const TokenProb& tp : dist) {
    cum += tp.p;
    if (u < cum) return tp.id;
  }
  // Rounding: the last token with positive mass.
  for (std::size_t i = dist.size(); i-- > 0;)
    if (dist[i].p > 0) return dist[i].id;
  return dist.back().id;
}

// ---- StopMatcher -----------------------------------------------------------------------------

StopMatcher::StopMatcher(std::vector<std::string> stop_strings) : stops_(std::move(stop_strings)) {
  std::erase_if(stops_, [](const std::string& s) { return s.empty(); });
  for (const auto& s : stops_) max_stop_ = std::max(max_stop_, s.size());
}

bool StopMatcher::push(std::string_view piece) {
  if (matched_) return true;
  const std::size_t old = text_.size();
  text_.append(piece);
  // A new match must end inside the new piece: search from max_stop_ bytes before it.
  const std::size_t from = old >= max_stop_ ? old - max_stop_ + 1 : 0;
  std::size_t best = std::string::npos;
  for (const auto& s : stops_) {
    const std::size_t pos = text_.find(s, from);
    if (pos != std::string::npos && pos < best) best = pos;
  }
  if (best != std::string::npos) {
    matched_ = true;
    cut_ = best;
    return true;
  }
  return false;
}

std::string_view StopMatcher::text() const {
  std::string_view t = text_;
  return matched_ ? t.substr(0, cut_) : t;
}

std::size_t StopMatcher::stable_bytes() const {
  if (matched_) return cut_;
  // The longest tail of the text that is a proper prefix of some stop string is held back.
  std::size_t hold = 0;
  for (const auto& s : stops_) {
    const std::size_t max_len = std::min(s.size() - 1, text_.size());
    for (std::size_t len = max_len; len > hold; --len) {
      if (std::string_view(text_).substr(text_.size() - len) == std::string_view(s).substr(0, len)) {
        hold = len;
        break;
      }
    }
  }
  return text_.size() - hold;
}

}  // namespace rapide::inference::engine
