// The scheduler (clangd TUScheduler's role): owns the open documents (in a context::Workspace:
// text + tree-sitter tree, immutable snapshots), their typing statistics; debounces inline-completion work per document; cancels superseded work; and runs
// tasks on worker threads in priority order (inline completion > hover > code action), or inline
// on the loop thread in synchronous mode (worker_threads = 0: deterministic tests).
//
// Threading: every member is called on the event loop thread. Tasks run on a worker (or the
// loop thread in synchronous mode) and receive an immutable document snapshot; they answer
// through thread-safe callbacks (ReplyOnce posts to the loop).
//
// Cancellation: each task carries a CancelToken. A task cancelled before it starts is not run:
// its `dropped` callback runs instead (on the loop thread). A running task polls its token
// (the engine checks it between forward passes).
#pragma once

#include "rapide/inference/engine/request_queue.h"
#include "rapide/inference/result.h"
#include "rapide/lsp/debounce.h"
#include "rapide/lsp/event_loop.h"
#include "rapide/lsp/metrics.h"
#include "rapide/context/document.h"
#include "rapide/context/workspace.h"

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rapide::lsp {

using inference::engine::CancelToken;
using DocumentSnapshot = context::SnapshotPtr;
using context::PositionEncoding;

// The path the context library knows a document by: the file path of a file:// URI
// (percent-decoded), else the URI itself.
std::string uri_to_path(const std::string& uri);

struct SchedulerOptions {
  int worker_threads = 2;  // 0: synchronous mode, tasks run on the loop thread
  DebouncePolicy debounce = DebouncePolicy::adaptive();
  context::WorkspaceOptions workspace;  // for the Workspace the scheduler owns (its log sink, ...)
};

struct Task {
  int priority = inference::engine::priority::kBackground;
  CancelToken cancel;
  std::function<void()> run;      // on a worker (or the loop thread in synchronous mode)
  std::function<void()> dropped;  // on the loop thread, when cancelled before running
};

class Scheduler {
 public:
  Scheduler(EventLoop& loop, SchedulerOptions options, Metrics& metrics);
  context::Workspace& workspace() { return *workspace_; }
  ~Scheduler();  // cancels waiting tasks (their `dropped` runs), joins workers
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Documents. Errors say what is wrong (unknown uri, bad range); the document is unchanged.
  void open(const std::string& uri, const std::string& language_id, std::string text, std::int64_t version);
  Status change(const std::string& uri, std::int64_t version, const std::vector<context::TextChange>& changes,
                PositionEncoding enc);
  bool close(const std::string& uri);
  DocumentSnapshot snapshot(const std::string& uri) const;
  std::size_t document_count() const { return docs_.size(); }

  // Runs the task after the document's debounce delay. A newer debounced task for the same
  // document, or a change of the document, cancels it (and a running one's token).
  void schedule_debounced(const std::string& uri, Task task);
  // Queues the task for a worker now. May also be called from a worker thread (follow-up
  // work such as a prefetch).
  void schedule(Task task);
  // Makes `cancel` the document's current inline work without a task of its own (a request
  // served by joining a running generation): the previous debounced task is cancelled as by
  // schedule_debounced, and the next change or debounced request cancels this token.
  void track(const std::string& uri, CancelToken cancel);
  EventLoop& loop() { return loop_; }

  // Records how long a completion took, for the adaptive debounce (thread-safe: posts).
  void record_latency(const std::string& uri, double ms);
  std::chrono::milliseconds current_delay(const std::string& uri) const;
  const DebouncePolicy& policy() const { return options_.debounce; }
  bool synchronous() const { return options_.worker_threads == 0; }

  // Answers now the tasks whose token fired while they waited (debounce timer or queue): their
  // `dropped` runs here instead of when a worker frees up, which may be long when every worker
  // waits on a busy model ($/cancelRequest calls it).
  void drop_cancelled();
  // Cancels every pending and running task (shutdown).
  void cancel_all();

 private:
  struct DocState {
    std::string path;  // in the workspace
    TypingStats typing;
    std::optional<EventLoop::TimerId> debounce_timer;
    std::optional<CancelToken> debounced_cancel;  // the latest debounced task (waiting or running)
    std::optional<Task> waiting;                  // that task while its timer has not fired
  };
  void cancel_debounced(DocState& s);
  void enqueue(Task task);
  void worker_main(std::size_t index);

  EventLoop& loop_;
  SchedulerOptions options_;
  Metrics& metrics_;
  std::unique_ptr<context::Workspace> workspace_;
  std::map<std::string, DocState> docs_;  // by URI

  std::mutex mutex_;
  std::condition_variable cv_;
  inference::engine::RequestQueue<Task> queue_;
  std::vector<std::optional<CancelToken>> running_;  // per worker: the token of its task now
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace rapide::lsp
