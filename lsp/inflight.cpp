#include "rapide/lsp/inflight.h"

namespace rapide::lsp {

InflightGeneration::InflightGeneration(std::string before, std::string after, CancelToken owner)
    : before_(std::move(before)), after_(std::move(after)), owner_(std::move(owner)) {}

bool InflightGeneration::agrees(std::string_view typed) const {
  const std::string_view s = streamed_;
  return s.substr(0, typed.size()) == typed.substr(0, s.size());  // one is a prefix of the other
}

std::optional<std::string> InflightGeneration::typed_in(std::string_view text) const {
  if (text.size() < before_.size() + after_.size()) return std::nullopt;
  if (text.substr(0, before_.size()) != before_ || text.substr(text.size() - after_.size()) != after_)
    return std::nullopt;
  std::string typed(text.substr(before_.size(), text.size() - before_.size() - after_.size()));
  std::lock_guard lock(mutex_);
  if (finished_ || cancel_.cancelled() || !agrees(typed)) return std::nullopt;
  return typed;
}

bool InflightGeneration::try_join(std::string_view text, Joiner joiner) {
  auto typed = typed_in(text);
  if (!typed) return false;
  std::lock_guard lock(mutex_);
  if (finished_ || cancel_.cancelled() || !agrees(*typed)) return false;
  joiner.typed = std::move(*typed);
  joiners_.push_back(std::move(joiner));
  return true;
}

bool InflightGeneration::unused_locked() const {
  if (!owner_.cancelled()) return false;
  if (Clock::now() < grace_until_) return false;
  for (const auto& j : joiners_)
    if (!j.cancel.cancelled() && agrees(j.typed)) return false;
  return true;
}

bool InflightGeneration::document_changed(std::string_view text, std::chrono::milliseconds grace) {
  if (typed_in(text)) {
    std::lock_guard lock(mutex_);
    grace_until_ = Clock::now() + grace;
    return false;
  }
  return stop_if_unused();
}

bool InflightGeneration::stop_if_unused() {
  std::lock_guard lock(mutex_);
  if (finished_ || !unused_locked()) return false;
  cancel_.cancel();
  return true;
}

void InflightGeneration::take_cancelled_locked(std::vector<Joiner>& out) {
  for (auto it = joiners_.begin(); it != joiners_.end();) {
    if (it->cancel.cancelled()) {
      out.push_back(std::move(*it));
      it = joiners_.erase(it);
    } else {
      ++it;
    }
  }
}

bool InflightGeneration::tick() {
  std::vector<Joiner> cancelled;
  bool stopped = false;
  {
    std::lock_guard lock(mutex_);
    if (finished_) return true;
    take_cancelled_locked(cancelled);
    if (unused_locked()) {
      cancel_.cancel();
      stopped = true;
    }
  }
  for (auto& j : cancelled) j.done(std::nullopt);
  return stopped;
}

bool InflightGeneration::on_stream(const std::string& generated) {
  std::vector<Joiner> diverged;
  bool go_on = true;
  {
    std::lock_guard lock(mutex_);
    streamed_ = generated;
    take_cancelled_locked(diverged);
    for (auto it = joiners_.begin(); it != joiners_.end();) {
      if (!agrees(it->typed)) {
        diverged.push_back(std::move(*it));
        it = joiners_.erase(it);
      } else {
        ++it;
      }
    }
    if (unused_locked()) {
      cancel_.cancel();
      go_on = false;
    }
  }
  for (auto& j : diverged) j.done(std::nullopt);
  return go_on;
}

void InflightGeneration::finish(const std::optional<std::string>& text) {
  std::vector<Joiner> joiners;
  {
    std::lock_guard lock(mutex_);
    finished_ = true;
    joiners.swap(joiners_);
  }
  for (auto& j : joiners) {
    if (text && !j.cancel.cancelled() && text->compare(0, j.typed.size(), j.typed) == 0 && text->size() >= j.typed.size()) {
      j.done(text->substr(j.typed.size()));
    } else {
      j.done(std::nullopt);
    }
  }
}

bool InflightGeneration::finished() const {
  std::lock_guard lock(mutex_);
  return finished_;
}

std::size_t InflightGeneration::joiners() const {
  std::lock_guard lock(mutex_);
  return joiners_.size();
}

}  // namespace rapide::lsp
