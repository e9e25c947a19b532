// `rapide perplexity`: llama-perplexity's measurement (see rapide/inference/perplexity.h) over a
// text file: prints the running value per chunk ([1]3.5033,[2]...) and the final PPL.
#include "commands.h"
#include "device_option.h"

#include "rapide/inference/gguf.h"
#include "rapide/inference/model.h"
#include "rapide/inference/perplexity.h"
#include "rapide/inference/tokenizer.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace rapide::cli {

namespace {

struct PerplexityArgs {
  std::string model;
  std::string file;
  int ctx = 512;
  int threads = 0;
  std::string device = "auto";
  bool json = false;
};

int run_perplexity(const PerplexityArgs& a) {
  namespace inf = rapide::inference;
  std::ifstream in(a.file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "rapide perplexity: cannot read '%s'\n", a.file.c_str());
    return 1;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  auto file = inf::gguf::GgufFile::open(a.model);
  if (!file) {
    std::fprintf(stderr, "rapide perplexity: %s\n", file.message().c_str());
    return 1;
  }
  auto tok = inf::Tokenizer::from_gguf(**file);
  if (!tok) {
    std::fprintf(stderr, "rapide perplexity: %s: %s\n", a.model.c_str(), tok.message().c_str());
    return 1;
  }
  const auto dev = resolve_device(a.device);
  if (!dev) {
    std::fprintf(stderr, "rapide perplexity: %s\n", dev.message().c_str());
    return 1;
  }
  inf::LoadOptions lo;
  lo.n_threads = a.threads;
  lo.device = *dev;
  auto model = inf::Model::load(*file, lo);
  if (!model) {
    std::fprintf(stderr, "rapide perplexity: %s: %s\n", a.model.c_str(), model.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "rapide perplexity: %s\n", (*model)->device_note().c_str());
  const std::vector<std::int32_t> ids = (*tok)->encode(text, true, false);
  inf::PerplexityOptions po;
  po.n_ctx = a.ctx;
  po.bos = (*tok)->add_bos() ? (*tok)->bos() : -1;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = inf::compute_perplexity(**model, ids, po);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!r) {
    std::fprintf(stderr, "rapide perplexity: %s\n", r.message().c_str());
    return 1;
  }
  if (a.json) {
    nlohmann::json j{{"ppl", r->ppl},           {"mean_nll", r->mean_nll}, {"n_scored", r->n_scored},
                     {"n_chunks", r->n_chunks}, {"n_ctx", a.ctx},          {"n_tokens", ids.size()},
                     {"running_ppl", r->running_ppl}, {"seconds", secs}};
    std::puts(j.dump().c_str());
  } else {
    std::printf("%zu tokens, %d chunks of %d\n", ids.size(), r->n_chunks, a.ctx);
    for (std::size_t i = 0; i < r->running_ppl.size(); ++i) std::printf("[%zu]%.4f,", i + 1, r->running_ppl[i]);
    std::printf("\nPPL = %.4f over %lld scored tokens (%.2f s)\n", r->ppl, static_cast<long long>(r->n_scored), secs);
  }
  return 0;
}

}  // namespace

void register_perplexity(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<PerplexityArgs>();
  CLI::App* cmd = app.add_subcommand("perplexity", "Perplexity of a model on a text file, computed as llama-perplexity does");
  cmd->add_option("--model,-m", args->model, "GGUF model file")->required();
  add_device_option(*cmd, &args->device);
  cmd->add_option("--file,-f", args->file, "Text file")->required();
  cmd->add_option("--ctx,-c", args->ctx, "Chunk length in tokens (only the second half of each chunk is scored)")
      ->capture_default_str();
  cmd->add_option("--threads,-t", args->threads, "Threads (0: physical cores)")->capture_default_str();
  cmd->add_flag("--json", args->json, "Print one JSON object: ppl, mean_nll, n_scored, n_chunks, running_ppl");
  cmd->callback([args, exit_code] { *exit_code = run_perplexity(*args); });
}

}  // namespace rapide::cli
