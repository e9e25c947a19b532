// The --device option of `rapide serve` (and the other model commands): "auto", "cpu", "cuda" or
// "cuda:N". resolve_device() checks the choice against this build and machine before anything
// is loaded, so a wrong choice is one clear line on stderr and exit status 1 (not a model load
// failure reported later inside the editor).
#pragma once

#include "rapide/inference/result.h"

#include <string>

namespace CLI {
class App;
}

namespace rapide::cli {

// Adds `--device` to a model-loading subcommand, bound to *device (its default stays what *device
// holds: "auto" for every command), with the common help text.
void add_device_option(CLI::App& cmd, std::string* device);

// The device string to load models with ("cpu", "cuda:N"; "auto" stays "auto"), or an error:
// bad syntax, a CUDA device asked of a build without the CUDA backend, no usable CUDA device,
// or an index past the devices present (the message lists them).
Result<std::string> resolve_device(const std::string& requested);

}  // namespace rapide::cli
