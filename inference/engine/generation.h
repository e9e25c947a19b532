// One request's generation as a step machine driven by the Engine's worker (private header).
//
// Token bookkeeping: history_ = prompt + emitted tokens. The target sequence's KV holds
// history_[0 .. H-1) once prefill is done; the last history token (the "pending" one) is fed at
// the start of the next step, followed by the drafted tokens:
//
//   plan()     prefill: the next chunk of the prompt (logits for the last prompt token only);
//              decode:  [pending, d1..dk] with logits for all k+1 rows (k = 0 without a draft)
//   forward    (the engine, batched with other generations)
//   consume()  prefill: sample the first token from the last prompt row;
//              decode:  accept/replace drafted tokens row by row (speculative.h), roll the KV
//                       back to pending + accepted, emit the accepted tokens + one more
#pragma once

#include "rapide/inference/engine/engine.h"
#include "rapide/inference/engine/sequence_pool.h"

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <vector>

namespace rapide::inference::engine {

class Generation {
 public:
  Generation(GenerateRequest request, const Tokenizer& tokenizer, std::int32_t n_vocab, Clock::time_point submitted);

  const GenerateRequest& request() const { return req_; }
  std::future<GenerateResult> future() { return promise_.get_future(); }

  // Takes a sequence from the pool (prefix reuse). On error the generation is finished. `cost`:
  // the engine's draft cost model (worker thread only; outlives the generation).
  void start(SequencePool& pool, SequencePool* draft_pool, Model* draft_model, std::int32_t n_ctx,
             DraftCostState* cost = nullptr);

  bool finished() const { return finish_.has_value(); }
  bool prefilling() const { return prefilling_; }
  std::uint64_t admitted_order = 0;

  // Prepares the input of the next forward pass (may run draft-model forwards). Finishes the
  // generation on error. `base_rows`: rows other generations put into the same pass.
  void plan(std::int32_t prefill_chunk, std::int32_t base_rows = 0);
  // Rows of the planned pass (0 when nothing is planned).
  std::int32_t planned_rows() const { return static_cast<std::int32_t>(step_tokens_.size()); }
  Model::SequenceBatch batch();
  // Processes the logits of the forward pass that just ran; `elapsed_ms` is its wall time.
  void consume(double elapsed_ms);
  // Checks the cancel token and the deadline; finishes the generation when either fired.
  bool check_cancel(Clock::time_point now);

  void finish(Finish f, std::string error = {});
  // Gives the sequences back to their pools, runs `before_fulfil` (may be empty), then fulfils
  // the promise.
  void complete(std::int64_t pass_counter, SequencePool& pool, SequencePool* draft_pool,
                const std::function<void()>& before_fulfil = {});

 private:
  std::int32_t room() const;  // tokens the target KV can still take
  bool emit(std::int32_t token);  // false when the generation finished
  std::vector<std::int32_t> make_draft(std::int32_t k, std::int32_t base_rows);
  bool cost_policy() const { return cost_ && req_.draft_policy == DraftPolicy::COST; }
  void count_choice(const DraftChoice& c, std::int32_t k_max);
  Status draft_with_model(std::int32_t k, std::vector<std::int32_t>& out);

  GenerateRequest req_;
  const Tokenizer& tok_;
  std::int32_t n_vocab_;
  std::promise<GenerateResult> promise_;
  GenerateResult result_;
  std::optional<Finish> finish_;
  Clock::time_point submitted_;
  bool started_ = false;

  Sampler sampler_;
  StreamingDecoder decoder_;
  StopMatcher stop_;
  std::size_t shown_bytes_ = 0;

  std::unique_ptr<CachedSequence> seq_;
  std::vector<std::int32_t> history_;
  bool prefilling_ = true;

  // the current step
  std::vector<std::int32_t> step_tokens_;
  std::vector<std::int32_t> step_rows_;
  std::vector<float> logits_;
  std::vector<std::int32_t> draft_;
  std::vector<std::vector<TokenProb>> draft_q_;  // draft model's distributions (sampled mode)
  double draft_ms_ = 0;

  // speculation
  std::optional<NgramDrafter> ngram_;
  Model* draft_model_ = nullptr;
  std::unique_ptr<CachedSequence> draft_seq_;
  std::optional<Sampler> draft_sampler_;
  AdaptiveDraftLength draft_len_{1, 16, 4};
  std::vector<float> draft_logits_;
  DraftCostState* cost_ = nullptr;
  int draft_class_ = 0;  // acceptance class of the current draft (n-gram match length)
};

}  // namespace rapide::inference::engine
