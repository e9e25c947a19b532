// `rapide quantize`: rewrites a GGUF model with its weights in another format, as llama-quantize
// does (see rapide/inference/quantize_model.h).
//   rapide quantize IN.gguf OUT.gguf TYPE [--threads N] [--allow-requantize]
// Errors go to stderr with exit code 1.
#include "commands.h"

#include "rapide/inference/quantize_model.h"

#include <cstdio>
#include <memory>
#include <string>

namespace rapide::cli {
namespace {

namespace inf = rapide::inference;

struct QuantizeArgs {
  std::string input;
  std::string output;
  std::string type;
  int threads = 0;
  bool allow_requantize = false;
};

int run_quantize(const QuantizeArgs& a) {
  auto format = inf::parse_weight_format(a.type);
  if (!format) {
    std::fprintf(stderr, "rapide quantize: %s\n", format.message().c_str());
    return 1;
  }
  inf::QuantizeOptions o;
  o.input = a.input;
  o.output = a.output;
  o.format = *format;
  o.allow_requantize = a.allow_requantize;
  o.n_threads = a.threads;
  auto r = inf::quantize_model(o);
  if (!r) {
    std::fprintf(stderr, "rapide quantize: %s\n", r.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "rapide quantize: wrote %s: %s, %llu tensors (%llu converted), weights %.1f MiB -> %.1f MiB in %.1f s\n",
               a.output.c_str(), inf::weight_format_name(o.format).c_str(), static_cast<unsigned long long>(r->tensors),
               static_cast<unsigned long long>(r->converted), static_cast<double>(r->input_bytes) / (1 << 20),
               static_cast<double>(r->output_bytes) / (1 << 20), r->seconds);
  return 0;
}

}  // namespace

void register_quantize(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<QuantizeArgs>();
  CLI::App* cmd = app.add_subcommand("quantize", "Rewrite a GGUF model with its weights in another format (like llama-quantize)");
  cmd->add_option("input", a->input, "Source GGUF model (F32/F16/BF16 weights)")->required();
  cmd->add_option("output", a->output, "GGUF file to write")->required();
  cmd->add_option("type", a->type, "Weight format: f32, f16, bf16, q8_0, q4_0, q4_k, q5_k, q6_k, q4_k_m")->required();
  cmd->add_option("-t,--threads", a->threads, "Worker threads (default: all cores)");
  cmd->add_flag("--allow-requantize", a->allow_requantize, "Also convert tensors that are already quantized");
  cmd->callback([a, exit_code] { *exit_code = run_quantize(*a); });
}

}  // namespace rapide::cli
