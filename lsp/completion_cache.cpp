#include "rapide/lsp/completion_cache.h"

#include <algorithm>

namespace rapide::lsp {

void CompletionCache::store(const std::string& uri, std::string_view before, std::string_view line_rest,
                            std::string completion) {
  if (completion.empty()) return;
  Entry e;
  e.before_len = before.size();
  e.before_tail = std::string(before.substr(before.size() - std::min(before.size(), kTailBytes)));
  e.line_rest = std::string(line_rest);
  e.completion = std::move(completion);
  std::lock_guard lock(mutex_);
  auto& list = entries_[uri];
  list.push_front(std::move(e));
  while (list.size() > kEntriesPerDocument) list.pop_back();
}

std::optional<std::string> CompletionCache::lookup(const std::string& uri, std::string_view before,
                                                   std::string_view line_rest) const {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(uri);
  if (it == entries_.end()) return std::nullopt;
  for (const Entry& e : it->second) {
    if (before.size() < e.before_len || e.line_rest != line_rest) continue;
    const std::size_t typed_len = before.size() - e.before_len;
    if (typed_len >= e.completion.size()) continue;  // nothing left to show
    const std::string_view typed = before.substr(e.before_len);
    if (e.completion.compare(0, typed_len, typed) != 0) continue;
    const std::string_view tail = before.substr(e.before_len - e.before_tail.size(), e.before_tail.size());
    if (tail != e.before_tail) continue;
    return e.completion.substr(typed_len);
  }
  return std::nullopt;
}

void CompletionCache::forget(const std::string& uri) {
  std::lock_guard lock(mutex_);
  entries_.erase(uri);
}

}  // namespace rapide::lsp
