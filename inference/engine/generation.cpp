// One request's generation: prefill, decode, speculative verification (see generation.h).
#include "generation.h"

#include <algorithm>
#include <cstring>

namespace rapide::inference::engine {

namespace {
double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}
}  // namespace

Generation::Generation(GenerateRequest request, const Tokenizer& tokenizer, std::int32_t n_vocab,
                       Clock::time_point submitted)
    : req_(std::move(request)),
      tok_(tokenizer),
      n_vocab_(n_vocab),
      submitted_(submitted),
      sampler_(req_.sampling, n_vocab),
      decoder_(tokenizer),
      stop_(req_.stop_strings) {
  result_.prompt_tokens = static_cast<std::int32_t>(req_.prompt.size());
}

std::int32_t Generation::room() const { return seq_ ? seq_->kv->capacity() - seq_->kv->size() : 0; }

void Generation::start(SequencePool& pool, SequencePool* draft_pool, Model* draft_model, std::int32_t n_ctx,
                       DraftCostState* cost) {
  if (finished()) return;
  started_ = true;
  cost_ = cost;
  result_.queue_ms = ms_since(submitted_);
  if (req_.prompt.empty()) return finish(Finish::ERROR, "generate: the prompt is empty (at least one token is needed)");
  for (std::size_t i = 0; i < req_.prompt.size(); ++i)
    if (req_.prompt[i] < 0 || req_.prompt[i] >= n_vocab_)
      return finish(Finish::ERROR, error("generate: prompt token ", i, " has id ", req_.prompt[i],
                                         ", outside the vocabulary [0, ", n_vocab_, ")").message);
  if (req_.max_tokens < 0) return finish(Finish::ERROR, "generate: max_tokens must be >= 0");
  if (Status st = req_.sampling.validate(n_vocab_); !st) return finish(Finish::ERROR, st.message());
  if (req_.speculation == Speculation::DRAFT && (!draft_model || !draft_pool))
    return finish(Finish::ERROR, "generate: draft speculation asked but the engine has no draft model");
  const std::int32_t n_prompt = static_cast<std::int32_t>(req_.prompt.size());
  if (n_prompt >= n_ctx)
    return finish(Finish::ERROR, error("generate: the prompt has ", n_prompt, " tokens, the context holds ", n_ctx,
                                       " (at least one more is needed to generate)").message);
  const std::int32_t spec_room = req_.speculation == Speculation::NONE ? 0 : std::max(0, req_.draft_max);
  const std::int64_t needed = static_cast<std::int64_t>(n_prompt) + req_.max_tokens + spec_room + 1;
  const std::int32_t capacity = static_cast<std::int32_t>(std::min<std::int64_t>(needed, n_ctx));

  auto acquired = pool.acquire(req_.prompt, capacity);
  if (!acquired) return finish(Finish::ERROR, acquired.message());
  seq_ = std::move(acquired->seq);
  result_.reused_tokens = acquired->reused_tokens;
  result_.prefilled_tokens = n_prompt - acquired->reused_tokens;
  history_ = req_.prompt;

  const int dmax = std::max(1, req_.draft_max);
  if (req_.speculation == Speculation::NGRAM) {
    NgramOptions o;
    o.max_draft = dmax;
    o.initial_draft = std::min(o.initial_draft, dmax);
    o.min_draft = std::min(o.min_draft, dmax);
    ngram_.emplace(o);
    ngram_->set_sources(req_.draft_sources);
  } else if (req_.speculation == Speculation::DRAFT) {
    draft_model_ = draft_model;
    auto d = draft_pool->acquire(req_.prompt, capacity);
    if (!d) return finish(Finish::ERROR, "draft model: " + d.message());
    draft_seq_ = std::move(d->seq);
    SamplingParams dp = req_.sampling;
    dp.seed = req_.sampling.seed ^ 0x9E3779B97F4A7C15ull;
    draft_sampler_.emplace(dp, draft_model->config().n_vocab);
    draft_len_ = AdaptiveDraftLength(1, dmax, std::min(4, dmax));
  }
}

bool Generation::check_cancel(Clock::time_point now) {
  if (finished()) return true;
  if (req_.cancel.cancelled()) {
    finish(Finish::CANCELLED);
    return true;
  }
  if (req_.deadline && *req_.deadline <= now) {
    finish(Finish::DEADLINE);
    return true;
  }
  return false;
}

void Generation::finish(Finish f, std::string err) {
  if (finish_) return;
  finish_ = f;
  result_.finish = f;
  if (f == Finish::ERROR) result_.error = std::move(err);
}

void Generation::complete(std::int64_t pass_counter, SequencePool& pool, SequencePool* draft_pool,
                          const std::function<void()>& before_fulfil) {
  if (!finish_) finish(Finish::ERROR, "internal: completed without a finish reason");
  result_.finished_at_pass = pass_counter;
  result_.text = std::string(stop_.text());
  if (!stop_.matched()) {
    // Flush a held incomplete UTF-8 tail into the final text.
    std::string tail = decoder_.flush();
    result_.text += tail;
  }
  if (cost_policy() && req_.speculation != Speculation::NONE)
    for (std::int32_t r = 1; r <= std::max(1, req_.draft_max) + 1; ++r) result_.pass_cost_ms.push_back(cost_->passes.estimate(r));
  if (seq_) pool.release(std::move(seq_));
  if (draft_seq_ && draft_pool) draft_pool->release(std::move(draft_seq_));
  if (before_fulfil) before_fulfil();
  promise_.set_value(std::move(result_));
}

// ---- planning --------------------------------------------------------------------------------

void Generation::plan(std::int32_t prefill_chunk, std::int32_t base_rows) {
  step_tokens_.clear();
  step_rows_.clear();
  draft_.clear();
  draft_q_.clear();
  draft_ms_ = 0;
  if (finished()) return;
  const std::int32_t n_prompt = static_cast<std::int32_t>(req_.prompt.size());
  if (prefilling_) {
    const std::int32_t from = seq_->kv->size();
    const std::int32_t to = std::min(n_prompt, from + std::max(1, prefill_chunk));
    step_tokens_.assign(req_.prompt.begin() + from, req_.prompt.begin() + to);
    if (to == n_prompt) step_rows_.push_back(to - from - 1);
    return;
  }
  // Decode: [pending] + draft.
  if (room() < 1) return finish(Finish::LENGTH);
  const std::int32_t remaining = req_.max_tokens - static_cast<std::int32_t>(result_.tokens.size());
  std::int32_t k = std::min({req_.draft_max, room() - 1, remaining - 1});
  if (req_.speculation != Speculation::NONE && k > 0) {
    const auto t0 = Clock::now();
    draft_ = make_draft(k, base_rows);
    draft_ms_ = ms_since(t0);
    if (finished()) return;
  }
  step_tokens_.push_back(history_.back());
  step_tokens_.insert(step_tokens_.end(), draft_.begin(), draft_.end());
  for (std::int32_t r = 0; r < static_cast<std::int32_t>(step_tokens_.size()); ++r) step_rows_.push_back(r);
}

void Generation::count_choice(const DraftChoice& c, std::int32_t k_max) {
  if (k_max <= 0) return;
  if (c.explored) ++result_.speculation.explored_drafts;
  else if (c.k == 0) ++result_.speculation.skipped_drafts;
}

std::vector<std::int32_t> Generation::make_draft(std::int32_t k, std::int32_t base_rows) {
  std::vector<std::int32_t> out;
  if (ngram_) {
    if (!cost_policy()) return ngram_->draft(history_, k);
    // Cost policy: the match length is the acceptance class; draft what pays.
    const NgramDrafter::Match m = ngram_->find_match(history_);
    if (m.n == 0) return out;
    draft_class_ = std::min(m.n, cost_->ngram.n_classes() - 1);
    const std::int32_t k_max =
        static_cast<std::int32_t>(std::min<std::size_t>(static_cast<std::size_t>(k), ngram_->available(history_, m)));
    const DraftChoice c = choose_draft_length(cost_->passes, cost_->ngram, draft_class_, k_max, base_rows, 0.0, cost_->options);
    count_choice(c, k_max);
    return ngram_->continuation(history_, m, c.k);
  }
  if (draft_model_) {
    if (cost_policy()) {
      draft_class_ = 0;
      const DraftChoice c = choose_draft_length(cost_->passes, cost_->draft, 0, k, base_rows, cost_->draft_token_ms(),
                                                cost_->options);
      count_choice(c, k);
      k = c.k;
      if (k == 0) return out;
    } else {
      k = std::min(k, draft_len_.value());
    }
    if (Status st = draft_with_model(k, out); !st) finish(Finish::ERROR, "draft model: " + st.message());
  }
  return out;
}

Status Generation::draft_with_model(std::int32_t k, std::vector<std::int32_t>& out) {
  const std::int32_t dv = draft_model_->config().n_vocab;
  draft_logits_.resize(static_cast<std::size_t>(dv));
  // Bring the draft cache to history_[0..H): keep the common prefix, feed the rest.
  const std::size_t h = history_.size();
  const std::size_t keep = std::min(common_prefix(draft_seq_->tokens, history_), h - 1);
  draft_seq_->truncate(static_cast<std::int32_t>(keep));
  k = std::min(k, draft_seq_->kv->capacity() - static_cast<std::int32_t>(h));
  if (k <= 0) return {};
  std::vector<std::int32_t> feed(history_.begin() + static_cast<std::ptrdiff_t>(keep), history_.end());
  std::vector<std::int32_t> hist = history_;
  for (std::int32_t i = 0; i < k; ++i) {
    const std::int32_t row = static_cast<std::int32_t>(feed.size()) - 1;
    Model::SequenceBatch b{draft_seq_->kv.get(), feed, {&row, 1}, draft_logits_.data()};
    const auto t0 = Clock::now();
    if (Status st = draft_model_->forward({&b, 1}); !st) return st;
    if (cost_) cost_->observe_draft_pass(static_cast<int>(feed.size()), ms_since(t0));
    ++result_.speculation.draft_forward_passes;
    draft_seq_->tokens.insert(draft_seq_->tokens.end(), feed.begin(), feed.end());
    std::int32_t x;
    if (draft_sampler_->greedy()) {
      x = draft_sampler_->argmax(draft_logits_, hist);
    } else {
      std::vector<TokenProb> q;
      draft_sampler_->distribution(draft_logits_, hist, q);
      x = draft_sampler_->draw(q);
      draft_q_.push_back(std::move(q));
    }
    if (x >= n_vocab_) break;  // the target cannot verify it
    out.push_back(x);
    hist.push_back(x);
    feed.assign(1, x);
  }
  if (!draft_sampler_->greedy()) draft_q_.resize(out.size());
  return {};
}

Model::SequenceBatch Generation::batch() {
  logits_.resize(step_rows_.size() * static_cast<std::size_t>(n_vocab_));
  return Model::SequenceBatch{seq_->kv.get(), step_tokens_, step_rows_, logits_.data()};
}

// ---- consuming the logits ----------------------------------------------------------------------

void Generation::consume(double elapsed_ms) {
  if (finished() || step_tokens_.empty()) return;
  seq_->tokens.insert(seq_->tokens.end(), step_tokens_.begin(), step_tokens_.end());
  const std::size_t nv = static_cast<std::size_t>(n_vocab_);
  if (prefilling_) {
    result_.prefill_ms += elapsed_ms;
    if (step_rows_.empty()) return;  // more prompt to go
    prefilling_ = false;
    const std::span<const float> row(logits_.data(), nv);
    if (req_.return_prompt_logits) result_.prompt_logits.assign(row.begin(), row.end());
    if (req_.max_tokens == 0) return finish(Finish::LENGTH);
    emit(sampler_.sample(row, history_));
    return;
  }
  result_.decode_ms += elapsed_ms + draft_ms_;
  SpeculationStats& st = result_.speculation;
  ++st.forward_passes;
  const std::int32_t k = static_cast<std::int32_t>(draft_.size());
  std::vector<std::int32_t> out;  // tokens to emit this step
  std::int32_t accepted = 0;
  if (k == 0) {
    out.push_back(sampler_.sample(std::span<const float>(logits_.data(), nv), history_));
  } else {
    ++st.verifications;
    st.drafted += k;
    std::vector<std::int32_t> hist = history_;
    std::vector<TokenProb> p;
    bool rejected = false;
    for (std::int32_t i = 0; i < k; ++i) {
      const std::span<const float> row(logits_.data() + static_cast<std::size_t>(i) * nv, nv);
      sampler_.distribution(row, hist, p);
      const std::span<const TokenProb> q =
          draft_q_.empty() ? std::span<const TokenProb>{} : std::span<const TokenProb>(draft_q_[static_cast<std::size_t>(i)]);
      const AcceptDecision d = accept_or_replace(p, q, draft_[static_cast<std::size_t>(i)], sampler_.rng());
      out.push_back(d.token);
      if (!d.accepted) {
        rejected = true;
        break;
      }
      ++accepted;
      hist.push_back(d.token);
    }
    if (!rejected) {
      const std::span<const float> row(logits_.data() + static_cast<std::size_t>(k) * nv, nv);
      out.push_back(sampler_.sample(row, hist));
    }
    st.accepted += accepted;
    if (ngram_) ngram_->update(k, accepted);
    if (draft_model_) draft_len_.update(k, accepted);
    if (cost_policy()) (ngram_ ? cost_->ngram : cost_->draft).observe(draft_class_, k, accepted);
  }
  // Roll back the drafted tokens that were not accepted: KV keeps pending + accepted.
  seq_->truncate(seq_->kv->size() - (k - accepted));
  for (std::int32_t t : out)
    if (!emit(t)) break;
}

bool Generation::emit(std::int32_t token) {
  if (finished()) return false;
  const bool eog = req_.stop_at_eog && tok_.is_eog(token);
  if (eog || std::find(req_.stop_tokens.begin(), req_.stop_tokens.end(), token) != req_.stop_tokens.end()) {
    finish(Finish::STOP_TOKEN);
    return false;
  }
  result_.tokens.push_back(token);
  history_.push_back(token);
  const bool matched = stop_.push(decoder_.push(token));
  const std::size_t stable = stop_.stable_bytes();
  if (req_.on_token) {
    const std::string_view text = stop_.text().substr(shown_bytes_, stable - shown_bytes_);
    TokenEvent ev{token, text, static_cast<std::int32_t>(result_.tokens.size()) - 1};
    shown_bytes_ = stable;
    bool go_on = true;
    try {
      go_on = req_.on_token(ev);
    } catch (const std::exception& e) {
      finish(Finish::ERROR, std::string("on_token callback threw: ") + e.what());
      return false;
    }
    if (!go_on) {
      finish(Finish::CALLBACK);
      return false;
    }
  }
  if (matched) {
    finish(Finish::STOP_STRING);
    return false;
  }
  if (static_cast<std::int32_t>(result_.tokens.size()) >= req_.max_tokens) {
    finish(Finish::LENGTH);
    return false;
  }
  return true;
}

}  // namespace rapide::inference::engine
