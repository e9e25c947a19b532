// Subcommand registration. Each cmd_<name>.cpp defines one register function that adds its
// subcommand (with --help text and real argument parsing) to the app; main.cpp calls them all.
// A command's callback stores its exit code in *exit_code.
#pragma once

#include <CLI/CLI.hpp>

namespace rapide::cli {

using Register = void (*)(CLI::App& app, int* exit_code);

void register_tokenize(CLI::App& app, int* exit_code);  // cmd_tokenize.cpp

void register_gguf(CLI::App& app, int* exit_code);        // cmd_gguf.cpp
void register_make_model(CLI::App& app, int* exit_code);  // cmd_make_model.cpp

void register_logits(CLI::App& app, int* exit_code);      // cmd_logits.cpp
void register_perplexity(CLI::App& app, int* exit_code);  // cmd_perplexity.cpp
void register_context(CLI::App& app, int* exit_code);     // cmd_context.cpp
void register_serve(CLI::App& app, int* exit_code);     // cmd_serve.cpp
void register_complete(CLI::App& app, int* exit_code);  // cmd_complete.cpp
void register_demo(CLI::App& app, int* exit_code);      // cmd_demo.cpp

void register_generate(CLI::App& app, int* exit_code);  // cmd_generate.cpp
void register_quantize(CLI::App& app, int* exit_code);  // cmd_quantize.cpp
void register_serve_http(CLI::App& app, int* exit_code);  // cmd_serve_http.cpp
void register_bench(CLI::App& app, int* exit_code);       // cmd_bench.cpp

}  // namespace rapide::cli
