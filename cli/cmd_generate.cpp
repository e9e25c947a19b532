// `rapide generate`: text generation through the Engine (cached sequences, sampling, speculative
// decoding). Streams the text to stdout, or prints one JSON object with --json.
#include "commands.h"
#include "device_option.h"

#include "rapide/inference/engine/engine.h"
#include "rapide/inference/gguf.h"
#include "rapide/inference/model.h"
#include "rapide/inference/tokenizer.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace rapide::cli {

namespace {

namespace inf = rapide::inference;
namespace eng = rapide::inference::engine;

struct GenerateArgs {
  std::string model;
  std::string prompt;
  std::string prompt_file;
  std::string warmup_prompt_file;
  int n_predict = 128;
  float temp = 0.0f;
  int top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  std::uint64_t seed = 0;
  bool json = false;
  std::string speculate = "none";
  std::string draft_model;
  int draft_max = 16;
  std::string draft_policy = "cost";
  int threads = 0;
  std::string device = "auto";
  int ctx = 4096;
  bool no_bos = false;
  bool ignore_eos = false;
  std::vector<std::string> stop;
};

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

struct Loaded {
  std::unique_ptr<inf::Model> model;
  std::shared_ptr<const inf::Tokenizer> tokenizer;
};

bool load(const std::string& path, int threads, const std::string& device, Loaded& out, bool need_tokenizer) {
  auto file = inf::gguf::GgufFile::open(path);
  if (!file) {
    std::fprintf(stderr, "rapide generate: %s\n", file.message().c_str());
    return false;
  }
  if (need_tokenizer) {
    auto tok = inf::Tokenizer::from_gguf(**file);
    if (!tok) {
      std::fprintf(stderr, "rapide generate: %s: %s\n", path.c_str(), tok.message().c_str());
      return false;
    }
    out.tokenizer = *tok;
  }
  const auto dev = resolve_device(device);
  if (!dev) {
    std::fprintf(stderr, "rapide generate: %s\n", dev.message().c_str());
    return false;
  }
  inf::LoadOptions lo;
  lo.n_threads = threads;
  lo.device = *dev;
  auto model = inf::Model::load(*file, lo);
  if (!model) {
    std::fprintf(stderr, "rapide generate: %s: %s\n", path.c_str(), model.message().c_str());
    return false;
  }
  std::fprintf(stderr, "rapide generate: %s\n", (*model)->device_note().c_str());
  out.model = std::move(*model);
  return true;
}

int run_generate(GenerateArgs a) {
  if (a.prompt.empty() == a.prompt_file.empty()) {
    std::fprintf(stderr, "rapide generate: give exactly one of --prompt and --prompt-file\n");
    return 2;
  }
  if (!a.prompt_file.empty() && !read_file(a.prompt_file, a.prompt)) {
    std::fprintf(stderr, "rapide generate: cannot read --prompt-file %s\n", a.prompt_file.c_str());
    return 1;
  }
  std::string warmup;
  if (!a.warmup_prompt_file.empty() && !read_file(a.warmup_prompt_file, warmup)) {
    std::fprintf(stderr, "rapide generate: cannot read --warmup-prompt-file %s\n", a.warmup_prompt_file.c_str());
    return 1;
  }
  eng::Speculation spec;
  if (a.speculate == "none") spec = eng::Speculation::NONE;
  else if (a.speculate == "ngram") spec = eng::Speculation::NGRAM;
  else if (a.speculate == "draft") spec = eng::Speculation::DRAFT;
  else {
    std::fprintf(stderr, "rapide generate: --speculate must be none, ngram or draft, got '%s'\n", a.speculate.c_str());
    return 2;
  }
  if (spec == eng::Speculation::DRAFT && a.draft_model.empty()) {
    std::fprintf(stderr, "rapide generate: --speculate draft needs --draft-model F (a small model with the same vocabulary)\n");
    return 2;
  }
  eng::DraftPolicy policy;
  if (a.draft_policy == "cost") policy = eng::DraftPolicy::COST;
  else if (a.draft_policy == "adaptive") policy = eng::DraftPolicy::ADAPTIVE;
  else {
    std::fprintf(stderr, "rapide generate: --draft-policy must be cost or adaptive, got '%s'\n", a.draft_policy.c_str());
    return 2;
  }
  if (a.draft_max < 1) {
    std::fprintf(stderr, "rapide generate: --draft-max must be >= 1, got %d\n", a.draft_max);
    return 2;
  }
  if (a.n_predict < 0) {
    std::fprintf(stderr, "rapide generate: -n must be >= 0, got %d\n", a.n_predict);
    return 2;
  }

  Loaded target;
  if (!load(a.model, a.threads, a.device, target, true)) return 1;
  Loaded draft;
  if (spec == eng::Speculation::DRAFT && !load(a.draft_model, a.threads, a.device, draft, false)) return 1;

  eng::Engine::Options opts;
  opts.n_ctx = a.ctx;
  auto engine = eng::Engine::create(std::move(target.model), target.tokenizer, opts, std::move(draft.model));
  if (!engine) {
    std::fprintf(stderr, "rapide generate: %s\n", engine.message().c_str());
    return 1;
  }
  const inf::Tokenizer& tok = *target.tokenizer;

  auto make_request = [&](const std::string& text) {
    eng::GenerateRequest r;
    r.prompt = tok.encode(text, !a.no_bos, false);
    r.max_tokens = a.n_predict;
    r.sampling.temperature = a.temp;
    r.sampling.top_k = a.top_k;
    r.sampling.top_p = a.top_p;
    r.sampling.min_p = a.min_p;
    r.sampling.repetition_penalty = a.repeat_penalty;
    r.sampling.seed = a.seed;
    r.stop_at_eog = !a.ignore_eos;
    r.stop_strings = a.stop;
    r.speculation = spec;
    r.draft_max = a.draft_max;
    r.draft_policy = policy;
    return r;
  };
  if (!warmup.empty()) {
    eng::GenerateRequest w = make_request(warmup);
    const eng::GenerateResult wr = (*engine)->generate(std::move(w));
    if (wr.finish == eng::Finish::ERROR) {
      std::fprintf(stderr, "rapide generate: warm-up prompt: %s\n", wr.error.c_str());
      return 1;
    }
  }
  eng::GenerateRequest req = make_request(a.prompt);
  if (!a.json) {
    req.on_token = [](const eng::TokenEvent& ev) {
      std::fwrite(ev.text.data(), 1, ev.text.size(), stdout);
      std::fflush(stdout);
      return true;
    };
  }
  const eng::GenerateResult r = (*engine)->generate(std::move(req));
  if (r.finish == eng::Finish::ERROR) {
    std::fprintf(stderr, "rapide generate: %s\n", r.error.c_str());
    return 1;
  }
  const auto& s = r.speculation;
  const double passes_per_token =
      r.tokens.empty() ? 0.0 : static_cast<double>(s.forward_passes) / static_cast<double>(r.tokens.size());
  if (a.json) {
    nlohmann::json j;
    j["tokens"] = r.tokens;
    j["text"] = r.text;
    j["prompt_tokens"] = r.prompt_tokens;
    j["prefilled_tokens"] = r.prefilled_tokens;
    j["reused_tokens"] = r.reused_tokens;
    j["prefill_tps"] = r.prefill_tps();
    j["decode_tps"] = r.decode_tps();
    j["prefill_ms"] = r.prefill_ms;
    j["decode_ms"] = r.decode_ms;
    j["finish"] = std::string(eng::finish_name(r.finish));
    j["speculate"] = std::string(eng::speculation_name(spec));
    j["forward_passes"] = s.forward_passes;
    j["forward_passes_per_token"] = passes_per_token;
    j["drafted"] = s.drafted;
    j["accepted"] = s.accepted;
    j["verifications"] = s.verifications;
    j["acceptance_rate"] = s.acceptance_rate();
    j["mean_accepted_length"] = s.mean_accepted();
    j["draft_forward_passes"] = s.draft_forward_passes;
    // What the draft policy decided: passes that verified a draft, plain passes, plain passes
    // chosen by the cost model although a draft was available, one-token exploration drafts,
    // and its estimate of a pass of 1..draft_max+1 rows (ms).
    j["draft_policy"] = std::string(eng::draft_policy_name(policy));
    j["passes_with_draft"] = s.verifications;
    j["passes_without_draft"] = s.forward_passes - s.verifications;
    j["skipped_drafts"] = s.skipped_drafts;
    j["explored_drafts"] = s.explored_drafts;
    j["pass_cost_ms"] = r.pass_cost_ms;
    std::puts(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    std::fputs("\n", stdout);
    std::fprintf(stderr,
                 "prompt %d tokens (%d prefilled, %d reused) %.1f tok/s; %zu generated %.1f tok/s; finish %s\n",
                 r.prompt_tokens, r.prefilled_tokens, r.reused_tokens, r.prefill_tps(), r.tokens.size(), r.decode_tps(),
                 std::string(eng::finish_name(r.finish)).c_str());
    if (spec != eng::Speculation::NONE)
      std::fprintf(stderr,
                   "speculation %s (%s policy): acceptance %.1f%%, mean accepted %.2f, %.3f forward passes per token, "
                   "%lld passes with a draft, %lld skipped by the cost model\n",
                   a.speculate.c_str(), a.draft_policy.c_str(), 100 * s.acceptance_rate(), s.mean_accepted(),
                   passes_per_token, static_cast<long long>(s.verifications), static_cast<long long>(s.skipped_drafts));
  }
  return 0;
}

}  // namespace

void register_generate(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<GenerateArgs>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate text from a prompt (greedy or sampled, optional speculative decoding)");
  cmd->add_option("--model,-m", a->model, "GGUF model file")->required();
  add_device_option(*cmd, &a->device);
  cmd->add_option("--prompt,-p", a->prompt, "Prompt text (BOS added when the tokenizer says so)");
  cmd->add_option("--prompt-file,-f", a->prompt_file, "Read the prompt from a file");
  cmd->add_option("-n,--n-predict", a->n_predict, "Tokens to generate at most")->capture_default_str();
  cmd->add_option("--temp", a->temp, "Temperature (0: greedy)")->capture_default_str();
  cmd->add_option("--top-k", a->top_k, "Top-k when sampling (0: off)")->capture_default_str();
  cmd->add_option("--top-p", a->top_p, "Top-p when sampling (1: off)")->capture_default_str();
  cmd->add_option("--min-p", a->min_p, "Min-p when sampling (0: off)")->capture_default_str();
  cmd->add_option("--repeat-penalty", a->repeat_penalty, "Repetition penalty over the last 64 tokens (1: off)")
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "Sampling seed")->capture_default_str();
  cmd->add_flag("--json", a->json,
                "Print one JSON object: tokens, text, prompt_tokens, prefilled_tokens, reused_tokens, prefill_tps, "
                "decode_tps, acceptance_rate, mean_accepted_length, forward_passes_per_token, ...");
  cmd->add_option("--speculate", a->speculate, "Speculative decoding: none, ngram (prompt lookup) or draft (--draft-model)")
      ->capture_default_str();
  cmd->add_option("--draft-model", a->draft_model, "Draft model for --speculate draft (same vocabulary as --model)");
  cmd->add_option("--draft-max", a->draft_max, "Most tokens drafted per verification")->capture_default_str();
  cmd->add_option("--draft-policy", a->draft_policy,
                  "Draft length: cost (draft only what is expected to pay for its verification, from measured pass "
                  "times and acceptance) or adaptive (the drafter's adaptive length, always drafting)")
      ->capture_default_str();
  cmd->add_option("--stop", a->stop, "Stop string (repeatable)");
  cmd->add_flag("--ignore-eos", a->ignore_eos, "Do not stop at end-of-generation tokens");
  cmd->add_flag("--no-bos", a->no_bos, "Do not add BOS even when the tokenizer would");
  cmd->add_option("--threads,-t", a->threads, "Threads (0: physical cores)")->capture_default_str();
  cmd->add_option("--ctx", a->ctx, "Context size in tokens (at most the model's)")->capture_default_str();
  cmd->add_option("--warmup-prompt-file", a->warmup_prompt_file,
                  "Run this prompt first (output discarded), as an editor's previous request would: the --json "
                  "figures then show how much of the prompt was reused from the cached sequence");
  cmd->callback([a, exit_code] { *exit_code = run_generate(*a); });
}

}  // namespace rapide::cli
