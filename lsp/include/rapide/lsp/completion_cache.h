// The typed-ahead completion cache: when the user types exactly what the ghost text showed, the
// rest of it is answered from here, without a model call.
//
// An entry remembers the text before the cursor when the completion was computed (its length
// and last kTailBytes bytes), the rest of the cursor line after it, and the completion. A later
// request matches when its text before the cursor is that text plus a prefix `typed` of the
// completion, the rest of the line is unchanged, and something is left to show. Prefetched
// entries (the next completion computed as if the shown one were accepted) use the same shape.
//
// Per document, a few entries, most recent first. Thread-safe (a mutex): workers store, the loop
// thread looks up.
#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace rapide::lsp {

class CompletionCache {
 public:
  static constexpr std::size_t kTailBytes = 2048;
  static constexpr std::size_t kEntriesPerDocument = 8;

  // before: the whole text before the cursor; line_rest: the text after it up to the line end.
  void store(const std::string& uri, std::string_view before, std::string_view line_rest, std::string completion);
  // What is left to show, or nullopt.
  std::optional<std::string> lookup(const std::string& uri, std::string_view before, std::string_view line_rest) const;
  void forget(const std::string& uri);

 private:
  struct Entry {
    std::size_t before_len = 0;
    std::string before_tail;
    std::string line_rest;
    std::string completion;
  };
  mutable std::mutex mutex_;
  std::map<std::string, std::deque<Entry>> entries_;
};

}  // namespace rapide::lsp
