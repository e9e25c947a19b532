// The Engine: one worker thread that owns the model(s), a priority queue of generation requests,
// cached sequences with prefix reuse, batching and speculative decoding.
//
//   auto engine = Engine::create(std::move(model), tokenizer, {});
//   GenerateRequest r;
//   r.prompt = tokenizer->encode(text, true, false);
//   r.max_tokens = 64;
//   r.speculation = Speculation::NGRAM;
//   auto handle = (*engine)->submit(std::move(r));   // returns at once
//   GenerateResult out = handle.get();                // blocks until finished / cancelled
//
// Scheduling. Requests wait in a queue ordered by priority, then deadline, then arrival. The worker
// admits up to Options::max_active requests, and each step runs one batched forward pass over the
// max_batch highest-priority active ones (the others keep their state and wait: a new inline
// completion overtakes a running hover at the next step). Prompts are prefilled in chunks of
// prefill_chunk tokens so that one forward pass stays short.
//
// Cancellation and deadlines are checked between forward passes: a cancelled request finishes
// (Finish::CANCELLED) before the next forward pass that would have included it, so a cancel is
// acknowledged within one forward pass. GenerateResult::finished_at_pass and Engine::forward_passes()
// let callers check that. Requests cancelled or expired while queued never start.
//
// Speculation (per request): NGRAM drafts from the prompt, the request's extra sources and the
// tokens generated so far; DRAFT runs the draft model (same vocabulary) with its own cached
// sequences. Both verify k drafted tokens in one forward of k+1 rows (see speculative.h). Greedy
// output is identical to plain greedy decoding; sampled output has the target's distribution.
// By default (DraftPolicy::COST) the worker times every decoding pass by its row count and learns
// the acceptance of each kind of draft across requests, and a step drafts only as many tokens as
// are expected to pay for their verification (draft_cost.h): speculation then falls back to plain
// decoding on models and texts where it would lose.
//
// Thread-safety: submit(), cancel tokens and the handles may be used from any thread. Callbacks
// (on_token) run on the worker thread: keep them short and never call back into the Engine's
// blocking functions from them. The destructor cancels everything and joins the worker.
#pragma once

#include "rapide/inference/engine/draft_cost.h"
#include "rapide/inference/engine/request_queue.h"
#include "rapide/inference/engine/sampling.h"
#include "rapide/inference/engine/speculative.h"
#include "rapide/inference/model.h"
#include "rapide/inference/result.h"
#include "rapide/inference/tokenizer.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rapide::inference::engine {

enum class Speculation { NONE, NGRAM, DRAFT };
std::string_view speculation_name(Speculation s);  // "none", "ngram", "draft"

// How many tokens a speculative step drafts.
//   COST      the engine's online cost model (draft_cost.h): measured pass time per row count and
//             acceptance per n-gram match length (or per draft position), k maximising the
//             expected tokens per unit of time, k = 0 (a plain pass) when drafting would not pay
//   ADAPTIVE  the drafter's own adaptive length, whatever a pass of k+1 rows costs (always drafts
//             when the drafter has something)
enum class DraftPolicy { COST, ADAPTIVE };
std::string_view draft_policy_name(DraftPolicy p);  // "cost", "adaptive"

enum class Finish {
  LENGTH,       // max_tokens reached (or the context is full)
  STOP_TOKEN,   // an end-of-generation or stop token
  STOP_STRING,  // a stop string appeared in the text
  CALLBACK,     // on_token returned false
  CANCELLED,    // the cancel token fired
  DEADLINE,     // the deadline passed
  ERROR,        // see GenerateResult::error
};
std::string_view finish_name(Finish f);

struct TokenEvent {
  std::int32_t token;
  std::string_view text;  // newly printable text (UTF-8 complete, stop-string prefixes held back)
  std::int32_t index;     // 0-based index of the token in the output
};

struct GenerateRequest {
  std::vector<std::int32_t> prompt;  // token ids (BOS included by the caller when wanted)
  std::int32_t max_tokens = 128;
  SamplingParams sampling;           // greedy by default
  bool stop_at_eog = true;           // the tokenizer's end-of-generation tokens stop the output
  std::vector<std::int32_t> stop_tokens;
  std::vector<std::string> stop_strings;

  Speculation speculation = Speculation::NONE;
  std::int32_t draft_max = 16;       // cap on drafted tokens per verification
  DraftPolicy draft_policy = DraftPolicy::COST;
  std::vector<std::vector<std::int32_t>> draft_sources;  // extra n-gram sources (document, context)

  int priority = 0;                  // higher runs first (see request_queue.h priority::)
  std::optional<Clock::time_point> deadline;
  CancelToken cancel;
  std::function<bool(const TokenEvent&)> on_token;  // streaming; return false to stop
  bool return_prompt_logits = false;  // keep the logits of the last prompt position
};

struct GenerateResult {
  Finish finish = Finish::LENGTH;
  std::string error;                  // for Finish::ERROR
  std::vector<std::int32_t> tokens;   // generated ids (stop token excluded)
  std::string text;                   // their text, cut before a stop string
  std::int32_t prompt_tokens = 0;
  std::int32_t prefilled_tokens = 0;  // prompt tokens computed
  std::int32_t reused_tokens = 0;     // prompt tokens taken from a cached sequence
  double prefill_ms = 0;              // wall time of the forward passes that prefilled
  double decode_ms = 0;               // wall time of the decoding passes (drafting included)
  double queue_ms = 0;                // time spent waiting before the first forward pass
  SpeculationStats speculation;
  std::int64_t finished_at_pass = 0;  // Engine::forward_passes() when the request finished
  std::vector<float> prompt_logits;   // when return_prompt_logits
  // Cost policy: the engine's estimate of a target pass of 1..draft_max+1 rows (ms) when the
  // request finished (empty without speculation or with DraftPolicy::ADAPTIVE).
  std::vector<double> pass_cost_ms;

  double prefill_tps() const { return prefill_ms > 0 ? prefilled_tokens / (prefill_ms / 1000.0) : 0.0; }
  double decode_tps() const { return decode_ms > 0 ? static_cast<double>(tokens.size()) / (decode_ms / 1000.0) : 0.0; }
};

class Engine {
 public:
  struct Options {
    std::int32_t n_ctx = 4096;                 // most tokens one sequence may hold
    std::size_t cache_bytes = 512u << 20;      // KV memory kept by cached (idle) sequences
    std::size_t max_cached_sequences = 16;
    int max_active = 8;                        // requests holding a sequence at once
    int max_batch = 4;                         // sequences per forward pass
    std::int32_t prefill_chunk = 256;          // prompt tokens per forward pass per sequence
  };

  // Takes ownership of the model(s). The draft model, when given, must share the target's
  // vocabulary size; n_ctx is clamped to the model's training context when that is smaller.
  static Result<std::unique_ptr<Engine>> create(std::unique_ptr<Model> model,
                                                std::shared_ptr<const Tokenizer> tokenizer, Options options,
                                                std::unique_ptr<Model> draft_model = nullptr);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues a request; the future is always fulfilled (errors come back as Finish::ERROR).
  std::future<GenerateResult> submit(GenerateRequest request);
  // submit() and wait.
  GenerateResult generate(GenerateRequest request);

  // Target forward passes run so far (prefill and decode, all requests).
  std::int64_t forward_passes() const { return passes_.load(std::memory_order_acquire); }
  const ModelConfig& config() const;
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  bool has_draft_model() const;
  const Options& options() const { return options_; }
  // Idle cached sequences and their KV bytes (approximate while the worker runs).
  std::size_t cached_sequences() const { return cached_count_.load(); }
  std::size_t cached_bytes() const { return cached_bytes_.load(); }

  struct Impl;

 private:
  Engine() = default;
  std::unique_ptr<Impl> impl_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  Options options_;
  std::atomic<std::int64_t> passes_{0};
  std::atomic<std::size_t> cached_count_{0};
  std::atomic<std::size_t> cached_bytes_{0};
};

}  // namespace rapide::inference::engine
