#include "rapide/inference/build_info.h"

#include "rapide/version.h"

namespace rapide::inference {
namespace {

std::string detect_cpu_features() {
  std::string out;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  auto add = [&out](bool present, const char* name) {
    if (present) {
      if (!out.empty()) out += ' ';
      out += name;
    }
  };
  add(__builtin_cpu_supports("sse4.2"), "sse4.2");
  add(__builtin_cpu_supports("avx2"), "avx2");
  add(__builtin_cpu_supports("fma"), "fma");
  add(__builtin_cpu_supports("avx512f"), "avx512f");
  add(__builtin_cpu_supports("avx512bw"), "avx512bw");
  add(__builtin_cpu_supports("avx512vl"), "avx512vl");
  add(__builtin_cpu_supports("avx512vnni"), "avx512vnni");
  add(__builtin_cpu_supports("avx512bf16"), "avx512bf16");
#else
  out = "generic";
#endif
  return out;
}

std::string compiler_string() {
#if defined(__clang__)
  return "clang " __clang_version__;
#elif defined(__GNUC__)
  return "g++ " + std::to_string(__GNUC__) + "." + std::to_string(__GNUC_MINOR__) + "." +
         std::to_string(__GNUC_PATCHLEVEL__);
#else
  return "unknown compiler";
#endif
}

}  // namespace

const BuildInfo& build_info() {
  static const BuildInfo info = [] {
    BuildInfo b;
    b.version = RAPIDE_VERSION_STRING;
#ifdef RAPIDE_BUILT_WITH_CUDA
    b.cuda_compiled = true;
#endif
    b.cpu_features = detect_cpu_features();
    b.compiler = compiler_string();
    return b;
  }();
  return info;
}

}  // namespace rapide::inference
