// Reuse of an in-flight inline-completion generation (issue 7: "reuse of an in-flight generation
// when the new request's prefix extends the old one").
//
// While the model generates a completion at cursor C, the user often types the very characters
// it is producing. Each keystroke cancels the request that started the generation, but the
// generation itself is kept: a new request whose text before the cursor is the generation's
// prefix plus `typed`, with the same text after the cursor, and whose `typed` agrees with the
// text streamed so far (one is a prefix of the other) joins it instead of starting a new
// prefill. When the generation ends, each joiner gets the completion minus what it typed.
//
// The generation has its own CancelToken (the engine polls it). It stops when nobody can use it
// any more: its owner request is cancelled, no joiner that agrees with the stream is live, and
// no grace period is running (a grace period starts when the document changes by text that
// agrees with the stream, to let the editor's next request arrive and join).
//
// Thread-safety: all members may be called from any thread (one mutex).
#pragma once

#include "rapide/inference/engine/request_queue.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rapide::lsp {

class InflightGeneration {
 public:
  using CancelToken = inference::engine::CancelToken;
  using Clock = std::chrono::steady_clock;

  // before/after: the document text before and after the generation's cursor; owner: the token
  // of the request that started it.
  InflightGeneration(std::string before, std::string after, CancelToken owner);

  struct Joiner {
    std::string typed;   // text typed past the generation's cursor
    CancelToken cancel;  // the joining request's token
    // The outcome for this joiner: the rest of the completion, or nullopt when the generation
    // cannot serve it (it diverged from what was typed, failed or was stopped): compute anew.
    std::function<void(std::optional<std::string> rest)> done;
  };

  // What the document text `text` has typed past the cursor, when it is before + typed + after
  // and `typed` agrees with the stream so far; nullopt otherwise (or when finished).
  std::optional<std::string> typed_in(std::string_view text) const;
  // Adds a joiner when `typed_in(text)` holds; false otherwise (the caller computes anew).
  bool try_join(std::string_view text, Joiner joiner);
  // The document changed to `text`: keeps the generation alive for `grace` when the change
  // agrees with the stream, else stops it if nobody can use it. Returns true when it stops.
  bool document_changed(std::string_view text, std::chrono::milliseconds grace);
  // The streamed text so far (generation thread). Joiners that diverged or whose request was
  // cancelled are handed back (their `done(nullopt)` runs after the lock is released). Returns
  // false to stop generating.
  bool on_stream(const std::string& generated);
  // Stops the generation when nobody can use it (owner cancelled, no live agreeing joiner, grace
  // over). Returns true when it stopped.
  bool stop_if_unused();
  // The periodic check while the generation runs (the server calls it every ~20 ms): hands back
  // the joiners whose request was cancelled (done(nullopt), after the lock is released), then
  // stop_if_unused(). Needed because on_stream only runs when text arrives: a generation queued
  // behind other work (a busy remote server, a full engine) streams nothing for a long time,
  // and a cancelled request must be answered now, not when the first token comes. Returns true
  // when it stopped (or had finished).
  bool tick();

  // The end: hands each live joiner its rest (or nullopt when `text` is nullopt: failed or
  // stopped) and cancelled joiners nullopt too (their own token says cancelled).
  void finish(const std::optional<std::string>& text);

  const CancelToken& cancel() const { return cancel_; }
  bool finished() const;
  std::size_t joiners() const;

 private:
  bool agrees(std::string_view typed) const;  // with streamed_, lock held
  bool unused_locked() const;
  void take_cancelled_locked(std::vector<Joiner>& out);

  const std::string before_, after_;
  const CancelToken owner_;
  CancelToken cancel_;
  mutable std::mutex mutex_;
  std::string streamed_;
  bool finished_ = false;
  Clock::time_point grace_until_{};
  std::vector<Joiner> joiners_;
};

}  // namespace rapide::lsp
