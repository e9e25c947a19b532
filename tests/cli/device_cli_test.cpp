// --device on the model-loading subcommands, through the real `rapide` binary: every such
// command offers it; on a machine without a GPU `--device cuda` exits 1 with the reason and
// `--device auto` falls back to the CPU and says why on stderr.
#include "test_support.h"

#include <gtest/gtest.h>

#include <string>

namespace rapide {
namespace {

using testing::run_process;

bool has_cuda_device() {
  const auto v = run_process({RAPIDE_BINARY, "--version"});
  return v.out.find("cuda backend: compiled") != std::string::npos && v.out.find("no device") == std::string::npos;
}

TEST(DeviceCli, EveryModelCommandOffersDevice) {
  for (const char* cmd : {"generate", "complete", "logits", "perplexity", "bench", "serve", "serve-http", "demo"}) {
    const auto r = run_process({RAPIDE_BINARY, cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd << ": " << r.err;
    EXPECT_NE(r.out.find("--device"), std::string::npos) << cmd << " --help lacks --device:\n" << r.out;
  }
}

TEST(DeviceCli, CudaWithoutDeviceExitsOneWithTheReason) {
  RAPIDE_REQUIRE_SHARED(stories, "models/stories260K.gguf");
  if (has_cuda_device()) GTEST_SKIP() << "this machine has a CUDA device: --device cuda is valid here";
  for (const char* dev : {"cuda", "cuda:0"}) {
    const auto r = run_process({RAPIDE_BINARY, "generate", "-m", stories.string(), "--device", dev, "-p", "Once", "-n", "2"});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find(std::string("--device ") + dev), std::string::npos) << r.err;
    const bool no_device = r.err.find("no usable CUDA device") != std::string::npos;
    const bool not_built = r.err.find("built without the CUDA backend") != std::string::npos;
    EXPECT_TRUE(no_device || not_built) << r.err;
    EXPECT_NE(r.err.find("--device cpu"), std::string::npos) << "the hint names the fallback: " << r.err;
  }
  const auto bad = run_process({RAPIDE_BINARY, "logits", "-m", stories.string(), "--device", "gpu", "-p", "Once"});
  EXPECT_EQ(bad.exit_code, 1) << bad.err;
  EXPECT_NE(bad.err.find("expected auto, cpu, cuda or cuda:N"), std::string::npos) << bad.err;
}

TEST(DeviceCli, AutoFallsBackToCpuAndSaysWhy) {
  RAPIDE_REQUIRE_SHARED(stories, "models/stories260K.gguf");
  const auto r = run_process({RAPIDE_BINARY, "generate", "-m", stories.string(), "--device", "auto", "-p", "Once", "-n", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  if (has_cuda_device())
    EXPECT_NE(r.err.find("device auto -> cuda:0"), std::string::npos) << r.err;
  else
    EXPECT_NE(r.err.find("device auto -> cpu: "), std::string::npos) << r.err;
  const auto cpu = run_process({RAPIDE_BINARY, "generate", "-m", stories.string(), "--device", "cpu", "-p", "Once", "-n", "2"});
  ASSERT_EQ(cpu.exit_code, 0) << cpu.err;
  EXPECT_NE(cpu.err.find("device cpu (asked for)"), std::string::npos) << cpu.err;
}

TEST(DeviceCli, BenchReportsDeviceAndKvBytes) {
  RAPIDE_REQUIRE_SHARED(stories, "models/stories260K.gguf");
  const auto r = run_process({RAPIDE_BINARY, "bench", "-m", stories.string(), "--device", "cpu", "-p", "8", "-n", "4", "--reps",
                              "1", "--bandwidth-mib", "16", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* key : {"\"device\":\"cpu\"", "\"decode_tps\"", "\"prefill_tps\"", "\"kv_bytes_per_token\"",
                          "\"roofline_fraction\"", "\"bandwidth_fraction\""})
    EXPECT_NE(r.out.find(key), std::string::npos) << key << " missing in " << r.out;
}

}  // namespace
}  // namespace rapide
