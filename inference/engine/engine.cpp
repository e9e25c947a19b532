// The Engine's worker loop: admission, cancellation, batching (see engine.h).
#include "rapide/inference/engine/engine.h"

#include "generation.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace rapide::inference::engine {

std::string_view speculation_name(Speculation s) {
  switch (s) {
    case Speculation::NONE: return "none";
    case Speculation::NGRAM: return "ngram";
    case Speculation::DRAFT: return "draft";
  }
  return "?";
}

std::string_view draft_policy_name(DraftPolicy p) {
  switch (p) {
    case DraftPolicy::COST: return "cost";
    case DraftPolicy::ADAPTIVE: return "adaptive";
  }
  return "?";
}

std::string_view finish_name(Finish f) {
  switch (f) {
    case Finish::LENGTH: return "length";
    case Finish::STOP_TOKEN: return "stop_token";
    case Finish::STOP_STRING: return "stop_string";
    case Finish::CALLBACK: return "callback";
    case Finish::CANCELLED: return "cancelled";
    case Finish::DEADLINE: return "deadline";
    case Finish::ERROR: return "error";
  }
  return "?";
}

struct Engine::Impl {
  Engine* owner = nullptr;
  std::unique_ptr<Model> model;
  std::unique_ptr<Model> draft;
  std::unique_ptr<SequencePool> pool;
  std::unique_ptr<SequencePool> draft_pool;

  std::mutex mu;
  std::condition_variable cv;
  RequestQueue<std::unique_ptr<Generation>> queue;  // guarded by mu
  bool stopping = false;                            // guarded by mu

  std::vector<std::unique_ptr<Generation>> active;  // worker thread only
  DraftCostState cost;                              // worker thread only
  std::uint64_t admitted = 0;
  std::thread worker;

  void run();
  void complete(std::unique_ptr<Generation> g) {
    g->complete(owner->passes_.load(), *pool, draft_pool.get(), [this] {
      owner->cached_count_.store(pool->size());
      owner->cached_bytes_.store(pool->bytes());
    });
  }
  void reap() {
    for (auto& g : active)
      if (g->finished()) complete(std::move(g));
    std::erase_if(active, [](const std::unique_ptr<Generation>& g) { return !g; });
  }
};

Result<std::unique_ptr<Engine>> Engine::create(std::unique_ptr<Model> model, std::shared_ptr<const Tokenizer> tokenizer,
                                               Options options, std::unique_ptr<Model> draft_model) {
  if (!model) return error("engine: no model");
  if (!tokenizer) return error("engine: no tokenizer");
  const ModelConfig& c = model->config();
  if (tokenizer->n_vocab() > c.n_vocab)
    return error("engine: the tokenizer has ", tokenizer->n_vocab(), " tokens, the model's output only ", c.n_vocab);
  if (draft_model && draft_model->config().n_vocab != c.n_vocab)
    return error("engine: the draft model's vocabulary has ", draft_model->config().n_vocab,
                 " tokens, the target's ", c.n_vocab, ": speculation needs the same vocabulary");
  if (options.n_ctx <= 1) return error("engine: n_ctx must be > 1, got ", options.n_ctx);
  if (c.n_ctx_train > 0) options.n_ctx = std::min(options.n_ctx, c.n_ctx_train);
  if (draft_model && draft_model->config().n_ctx_train > 0)
    options.n_ctx = std::min(options.n_ctx, draft_model->config().n_ctx_train);
  options.max_active = std::max(1, options.max_active);
  options.max_batch = std::clamp(options.max_batch, 1, options.max_active);
  options.prefill_chunk = std::max(1, options.prefill_chunk);

  std::unique_ptr<Engine> e(new Engine());
  e->tokenizer_ = std::move(tokenizer);
  e->options_ = options;
  e->impl_ = std::make_unique<Impl>();
  Impl& m = *e->impl_;
  m.owner = e.get();
  m.model = std::move(model);
  m.draft = std::move(draft_model);
  Model* target = m.model.get();
  m.pool = std::make_unique<SequencePool>([target](std::int32_t cap) { return target->new_kv_cache(cap); },
                                          options.cache_bytes, options.max_cached_sequences, options.n_ctx);
  if (m.draft) {
    Model* d = m.draft.get();
    m.draft_pool = std::make_unique<SequencePool>([d](std::int32_t cap) { return d->new_kv_cache(cap); },
                                                  options.cache_bytes, options.max_cached_sequences, options.n_ctx);
  }
  m.worker = std::thread([&m] { m.run(); });
  return e;
}

Engine::~Engine() {
  if (!impl_) return;
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->worker.joinable()) impl_->worker.join();
}

const ModelConfig& Engine::config() const { return impl_->model->config(); }
bool Engine::has_draft_model() const { return impl_->draft != nullptr; }

std::future<GenerateResult> Engine::submit(GenerateRequest request) {
  const int prio = request.priority;
  const auto deadline = request.deadline;
  CancelToken cancel = request.cancel;
  auto g = std::make_unique<Generation>(std::move(request), *tokenizer_, impl_->model->config().n_vocab, Clock::now());
  std::future<GenerateResult> f = g->future();
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping) {
      g->finish(Finish::CANCELLED);
      g->complete(passes_.load(), *impl_->pool, nullptr);  // never started: holds no sequence
      return f;
    }
    impl_->queue.push(prio, deadline, std::move(cancel), std::move(g));
  }
  impl_->cv.notify_all();
  return f;
}

GenerateResult Engine::generate(GenerateRequest request) { return submit(std::move(request)).get(); }

void Engine::Impl::run() {
  const Options& opt = owner->options_;
  std::vector<Generation*> chosen;
  std::vector<Model::SequenceBatch> batches;
  for (;;) {
    std::vector<std::unique_ptr<Generation>> admitted_now;
    std::vector<std::pair<RequestQueue<std::unique_ptr<Generation>>::Entry, bool>> dead;
    {
      std::unique_lock lock(mu);
      while (!stopping && queue.empty() && active.empty()) cv.wait(lock);
      if (stopping) break;
      dead = queue.drain_dead(Clock::now());
      while (static_cast<int>(active.size() + admitted_now.size()) < opt.max_active && !queue.empty())
        admitted_now.push_back(std::move(queue.pop()->item));
    }
    // Requests that died while queued never touch the model.
    for (auto& [entry, expired] : dead) {
      entry.item->finish(expired ? Finish::DEADLINE : Finish::CANCELLED);
      complete(std::move(entry.item));
    }
    for (auto& g : admitted_now) {
      g->admitted_order = admitted++;
      if (!g->check_cancel(Clock::now())) g->start(*pool, draft_pool.get(), draft.get(), opt.n_ctx, &cost);
      active.push_back(std::move(g));
    }
    const auto now = Clock::now();
    for (auto& g : active) g->check_cancel(now);
    reap();
    if (active.empty()) continue;

    // The max_batch most urgent active generations run this step.
    std::vector<Generation*> order;
    for (auto& g : active) order.push_back(g.get());
    std::stable_sort(order.begin(), order.end(), [](const Generation* a, const Generation* b) {
      if (a->request().priority != b->request().priority) return a->request().priority > b->request().priority;
      return a->admitted_order < b->admitted_order;
    });
    chosen.clear();
    std::int32_t rows = 0;
    for (Generation* g : order) {
      if (static_cast<int>(chosen.size()) >= opt.max_batch) break;
      g->plan(opt.prefill_chunk, rows);
      if (!g->finished()) {
        chosen.push_back(g);
        rows += g->planned_rows();
      }
    }
    // Drafting may have taken a while: look at the cancel tokens again right before the pass.
    const auto now2 = Clock::now();
    std::erase_if(chosen, [&](Generation* g) { return g->check_cancel(now2); });
    if (chosen.empty()) {
      reap();
      continue;
    }
    batches.clear();
    bool decoding = true;  // the cost model times decoding passes only (prefill rows cost otherwise)
    std::int32_t pass_rows = 0;
    for (Generation* g : chosen) {
      batches.push_back(g->batch());
      decoding = decoding && !g->prefilling();
      pass_rows += g->planned_rows();
    }
    const auto t0 = Clock::now();
    const Status st = model->forward(batches);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    owner->passes_.fetch_add(1, std::memory_order_acq_rel);
    if (st && decoding) cost.passes.observe(pass_rows, ms);
    for (Generation* g : chosen) {
      if (!st) g->finish(Finish::ERROR, "forward pass failed: " + st.message());
      else g->consume(ms);
    }
    reap();
  }
  // Shutdown: everything still around is cancelled.
  std::vector<RequestQueue<std::unique_ptr<Generation>>::Entry> rest;
  {
    std::lock_guard lock(mu);
    rest = queue.take_all();
  }
  for (auto& e : rest) {
    e.item->finish(Finish::CANCELLED);
    complete(std::move(e.item));
  }
  for (auto& g : active) {
    g->finish(Finish::CANCELLED);
    complete(std::move(g));
  }
  active.clear();
}

}  // namespace rapide::inference::engine
