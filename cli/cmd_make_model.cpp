// `rapide make-model`: writes a GGUF with seeded random weights, a tokenizer copied from a vocab
// GGUF and complete llama.cpp metadata (see rapide/inference/make_model.h).
//   rapide make-model --arch A (--preset NAME | --dims k=v,...) --type T --vocab VOCAB.gguf --seed S -o F
// Errors go to stderr with exit code 1.
#include "commands.h"

#include "rapide/inference/make_model.h"

#include <cstdio>
#include <memory>
#include <string>

namespace rapide::cli {
namespace {

namespace inf = rapide::inference;

struct MakeModelArgs {
  std::string arch;
  std::string preset;
  std::string dims;
  std::string type = "f32";
  std::string vocab;
  std::uint64_t seed = 0;
  std::string output;
  int threads = 0;
  std::string name;
  bool list_presets = false;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "rapide make-model: %s\n", message.c_str());
  return 1;
}

int run_make_model(const MakeModelArgs& a) {
  if (a.list_presets) {
    for (const inf::ModelPreset& p : inf::model_presets())
      std::printf("%-20s %s%s\n", std::string(p.name).c_str(), p.dims.arch.empty() ? "" : (p.dims.arch + ": ").c_str(),
                  std::string(p.description).c_str());
    return 0;
  }
  if (a.preset.empty() && a.dims.empty()) return fail("give --preset NAME or --dims key=value,... (see --list-presets)");
  if (a.vocab.empty()) return fail("--vocab VOCAB.gguf is required (the tokenizer is copied from it)");
  if (a.output.empty()) return fail("-o FILE is required");
  inf::MakeModelOptions o;
  if (!a.preset.empty()) {
    auto d = inf::preset_dims(a.preset, a.arch);
    if (!d) return fail(d.message());
    o.dims = *d;
  } else {
    if (a.arch.empty()) return fail("--dims needs --arch (llama, qwen2, qwen3, qwen3moe)");
    o.dims.arch = a.arch;
    if (a.arch.starts_with("qwen")) {
      o.dims.rope_base = 1e6;
      o.dims.rms_eps = 1e-6;
    }
  }
  if (Status s = inf::apply_dims(o.dims, a.dims); !s) return fail(s.message());
  auto format = inf::parse_weight_format(a.type);
  if (!format) return fail(format.message());
  o.format = *format;
  o.vocab = a.vocab;
  o.seed = a.seed;
  o.output = a.output;
  o.n_threads = a.threads;
  o.name = a.name;
  auto r = inf::make_model(o);
  if (!r) return fail(r.message());
  std::fprintf(stderr, "rapide make-model: wrote %s: %s, %s, %llu tensors, %llu parameters, vocab %lld, %llu bytes in %.1f s\n",
               a.output.c_str(), o.dims.arch.c_str(), inf::weight_format_name(o.format).c_str(),
               static_cast<unsigned long long>(r->tensors), static_cast<unsigned long long>(r->parameters),
               static_cast<long long>(r->n_vocab), static_cast<unsigned long long>(r->file_bytes), r->seconds);
  return 0;
}

}  // namespace

void register_make_model(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<MakeModelArgs>();
  CLI::App* cmd = app.add_subcommand(
      "make-model", "Write a GGUF model with seeded random weights and a real tokenizer (for tests and benchmarks)");
  cmd->add_option("--arch", a->arch, "Architecture: llama, qwen2, qwen3, qwen3moe (may be omitted when the preset implies it)");
  cmd->add_option("--preset", a->preset, "Shape preset: tiny, qwen2.5-coder-0.5b, qwen2.5-coder-1.5b, qwen3-moe-small");
  cmd->add_option("--dims", a->dims,
                  "Shape as key=value,... (n_embd n_layer n_ff n_head n_head_kv head_dim n_expert n_expert_used n_ff_exp "
                  "n_ctx rope_base rms_eps tied n_vocab); with --preset, overrides its values");
  cmd->add_option("--type", a->type, "Weight type: f32, f16, bf16, q8_0, q4_0, q4_k, q5_k, q6_k, q4_k_m (default f32)");
  cmd->add_option("--vocab", a->vocab, "GGUF file whose tokenizer.* metadata is copied (e.g. ggml-vocab-qwen2.gguf)");
  cmd->add_option("--seed", a->seed, "Random seed (same seed, same bytes; default 0)");
  cmd->add_option("-o,--output", a->output, "Output GGUF file");
  cmd->add_option("--threads", a->threads, "Worker threads (default: all cores)");
  cmd->add_option("--name", a->name, "general.name (default rapide-random-<arch>)");
  cmd->add_flag("--list-presets", a->list_presets, "List the presets and exit");
  cmd->callback([a, exit_code] { *exit_code = run_make_model(*a); });
}

}  // namespace rapide::cli
