// rapide: the command-line entry point. Parses arguments with CLI11 and runs one subcommand.
#include "commands.h"

#include "rapide/inference/build_info.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>
#include <vector>

#ifdef RAPIDE_HAVE_CUDA
#include "rapide/inference/cuda/cuda_backend.h"
#include "rapide/inference/cuda/device.h"
#endif

namespace {

std::string version_text() {
  const auto& b = rapide::inference::build_info();
  std::string s = "rapide " + b.version + "\n";
  s += "compiler: " + b.compiler + "\n";
  s += "cpu features: " + (b.cpu_features.empty() ? std::string("none detected") : b.cpu_features) + "\n";
#ifdef RAPIDE_HAVE_CUDA
  const auto q = rapide::inference::cuda::query_devices();
  s += "cuda backend: compiled (cuBLAS " + std::to_string(q.cublas_version) + ")";
  if (q.devices.empty()) {
    s += ", no device: " + q.why_none + "\n";
  } else {
    for (const auto& d : q.devices)
      s += "\n  device " + std::to_string(d.index) + ": " + d.name + " (sm_" + std::to_string(d.sm_major) +
           std::to_string(d.sm_minor) + ", " + std::to_string(d.total_memory_bytes >> 20) + " MiB)";
    s += "\n";
  }
#else
  s += "cuda backend: not compiled (no nvcc at build time)\n";
#endif
  return s;
}

// The commands, one register function each (see commands.h).
std::vector<rapide::cli::Register> commands() {
  return {
      rapide::cli::register_generate,
      rapide::cli::register_tokenize,
      rapide::cli::register_serve,
      rapide::cli::register_complete,
      rapide::cli::register_demo,
      rapide::cli::register_gguf,
      rapide::cli::register_make_model,
      rapide::cli::register_quantize,
      rapide::cli::register_logits,
      rapide::cli::register_perplexity,
      rapide::cli::register_context,
      rapide::cli::register_serve_http,
      rapide::cli::register_bench,
  };
}

}  // namespace

int main(int argc, char** argv) {
#ifdef RAPIDE_HAVE_CUDA
  // Model::load then accepts --device cuda / cuda:N / auto (rapide_inference never links CUDA).
  rapide::inference::cuda::register_cuda_backend();
#endif
  CLI::App app{"rapide: a code assistant language server with its own LLM inference engine"};
  app.require_subcommand(0, 1);
  bool show_version = false;
  app.add_flag("--version", show_version, "Print the version, compiled backends and CPU features");

  int exit_code = 0;
  for (rapide::cli::Register reg : commands()) reg(app, &exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (show_version) {
    std::fputs(version_text().c_str(), stdout);
    return 0;
  }
  if (app.get_subcommands().empty()) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  }
  return exit_code;
}
