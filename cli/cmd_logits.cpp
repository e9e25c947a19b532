// `rapide logits`: runs the model over a prompt and prints the next-token distribution at the
// last position (top-k tokens with logit and probability), as text or one JSON object. Used by
// tests and for checking a model file by hand.
#include "commands.h"
#include "device_option.h"

#include "rapide/inference/gguf.h"
#include "rapide/inference/model.h"
#include "rapide/inference/perplexity.h"
#include "rapide/inference/tokenizer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

namespace rapide::cli {

namespace {

struct LogitsArgs {
  std::string model;
  std::string prompt;
  int top_k = 10;
  int threads = 0;
  std::string device = "auto";
  bool json = false;
  bool all = false;
  bool no_bos = false;
};

int run_logits(const LogitsArgs& a) {
  namespace inf = rapide::inference;
  auto file = inf::gguf::GgufFile::open(a.model);
  if (!file) {
    std::fprintf(stderr, "rapide logits: %s\n", file.message().c_str());
    return 1;
  }
  auto tok = inf::Tokenizer::from_gguf(**file);
  if (!tok) {
    std::fprintf(stderr, "rapide logits: %s: %s\n", a.model.c_str(), tok.message().c_str());
    return 1;
  }
  const auto dev = resolve_device(a.device);
  if (!dev) {
    std::fprintf(stderr, "rapide logits: %s\n", dev.message().c_str());
    return 1;
  }
  inf::LoadOptions lo;
  lo.n_threads = a.threads;
  lo.device = *dev;
  auto model = inf::Model::load(*file, lo);
  if (!model) {
    std::fprintf(stderr, "rapide logits: %s: %s\n", a.model.c_str(), model.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "rapide logits: %s\n", (*model)->device_note().c_str());
  std::vector<std::int32_t> ids = (*tok)->encode(a.prompt, !a.no_bos, false);
  if (ids.empty()) {
    std::fprintf(stderr, "rapide logits: the prompt gives no tokens\n");
    return 1;
  }
  const std::int32_t n_vocab = (*model)->config().n_vocab;
  auto kv = (*model)->new_kv_cache(static_cast<std::int32_t>(ids.size()));
  if (!kv) {
    std::fprintf(stderr, "rapide logits: %s\n", kv.message().c_str());
    return 1;
  }
  const std::int32_t last = static_cast<std::int32_t>(ids.size()) - 1;
  std::vector<float> logits(static_cast<std::size_t>(n_vocab));
  inf::Model::SequenceBatch b{kv->get(), ids, {&last, 1}, logits.data()};
  if (rapide::Status st = (*model)->forward({&b, 1}); !st) {
    std::fprintf(stderr, "rapide logits: %s\n", st.message().c_str());
    return 1;
  }
  std::vector<std::int32_t> order(static_cast<std::size_t>(n_vocab));
  std::iota(order.begin(), order.end(), 0);
  const std::size_t k = std::min<std::size_t>(static_cast<std::size_t>(std::max(a.top_k, 0)), order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                    [&](std::int32_t x, std::int32_t y) { return logits[x] > logits[y] || (logits[x] == logits[y] && x < y); });

  if (a.json) {
    nlohmann::json j;
    j["tokens"] = ids;
    j["n_vocab"] = n_vocab;
    nlohmann::json top = nlohmann::json::array();
    for (std::size_t i = 0; i < k; ++i) {
      const std::int32_t id = order[i];
      top.push_back({{"id", id},
                     {"piece", (*tok)->token_to_piece(id)},
                     {"logit", logits[static_cast<std::size_t>(id)]},
                     {"prob", std::exp(inf::log_softmax_at(logits, id))}});
    }
    j["top"] = top;
    if (a.all) j["logits"] = logits;
    std::puts(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    std::printf("%zu prompt tokens, %d-token vocabulary; top %zu at the last position:\n", ids.size(), n_vocab, k);
    for (std::size_t i = 0; i < k; ++i) {
      const std::int32_t id = order[i];
      std::printf("%8d  %10.4f  %8.5f  %s\n", id, static_cast<double>(logits[static_cast<std::size_t>(id)]),
                  std::exp(inf::log_softmax_at(logits, id)), nlohmann::json((*tok)->token_to_piece(id)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    }
  }
  return 0;
}

}  // namespace

void register_logits(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<LogitsArgs>();
  CLI::App* cmd = app.add_subcommand("logits", "Print the next-token distribution after a prompt (top-k; --json for tools)");
  cmd->add_option("--model,-m", args->model, "GGUF model file")->required();
  add_device_option(*cmd, &args->device);
  cmd->add_option("--prompt,-p", args->prompt, "Prompt text (BOS added when the tokenizer says so)")->required();
  cmd->add_option("--top-k", args->top_k, "How many of the most likely tokens to print")->capture_default_str();
  cmd->add_option("--threads,-t", args->threads, "Threads (0: physical cores)")->capture_default_str();
  cmd->add_flag("--json", args->json, "Print one JSON object: tokens, n_vocab, top [{id, piece, logit, prob}]");
  cmd->add_flag("--all-logits", args->all, "With --json: also the full logits vector");
  cmd->add_flag("--no-bos", args->no_bos, "Do not add BOS/EOS even when the tokenizer would");
  cmd->callback([args, exit_code] { *exit_code = run_logits(*args); });
}

}  // namespace rapide::cli
