#include "device_option.h"

#include <CLI/CLI.hpp>

#include <charconv>

#ifdef RAPIDE_HAVE_CUDA
#include "rapide/inference/cuda/device.h"
#endif

namespace rapide::cli {

void add_device_option(CLI::App& cmd, std::string* device) {
  cmd.add_option("--device", *device,
                 "auto, cpu, cuda or cuda:N: where the model runs (auto: cuda:0 when this build has the CUDA backend, "
                 "a device is present and the model fits in its memory, else cpu; the choice is logged on stderr)")
      ->capture_default_str();
}

Result<std::string> resolve_device(const std::string& requested) {
  if (requested == "auto" || requested == "cpu") return requested;
  int index = 0;
  if (requested != "cuda") {
    const std::string_view prefix = "cuda:";
    const std::string_view digits = std::string_view(requested).substr(requested.rfind(prefix, 0) == 0 ? prefix.size() : 0);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (requested.rfind(prefix, 0) != 0 || digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() ||
        index < 0)
      return error("--device '", requested, "': expected auto, cpu, cuda or cuda:N (N a device index, e.g. cuda:0)");
  }
#ifdef RAPIDE_HAVE_CUDA
  const auto q = inference::cuda::query_devices();
  if (q.devices.empty())
    return error("--device ", requested, ": no usable CUDA device (", q.why_none.empty() ? "none found" : q.why_none,
                 "); use --device cpu");
  if (index >= static_cast<int>(q.devices.size())) {
    std::string list;
    for (const auto& d : q.devices) list += (list.empty() ? "" : ", ") + ("cuda:" + std::to_string(d.index) + " " + d.name);
    return error("--device ", requested, ": there is no CUDA device ", index, " (this machine has ", list, ")");
  }
  return "cuda:" + std::to_string(index);
#else
  return error("--device ", requested,
               ": this rapide was built without the CUDA backend (no nvcc at build time; see `rapide --version`); "
               "use --device cpu, or rebuild with -DRAPIDE_CUDA=ON on a machine with the CUDA toolkit");
#endif
}

}  // namespace rapide::cli
