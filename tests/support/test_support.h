// Helpers shared by the test suites: where ../shared is, and running a program as a subprocess.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace rapide::testing {

// The shared test-data folder: $RAPIDE_SHARED_DIR, else the path configured at build time.
inline std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("RAPIDE_SHARED_DIR"); env && *env) return env;
  return RAPIDE_SHARED_DIR;
}

// A file under ../shared, or an empty path when it is absent (the caller skips).
inline std::filesystem::path shared_file(const std::string& relative) {
  std::filesystem::path p = shared_dir() / relative;
  return std::filesystem::exists(p) ? p : std::filesystem::path{};
}

// Skips the current test with a clear reason when a ../shared file is missing.
#define RAPIDE_REQUIRE_SHARED(var, relative)                                                  \
  const std::filesystem::path var = ::rapide::testing::shared_file(relative);                \
  if (var.empty())                                                                            \
    GTEST_SKIP() << "shared test data " << (relative) << " not found under "                \
                 << ::rapide::testing::shared_dir() << " (set RAPIDE_SHARED_DIR to run this test)"

struct ProcessResult {
  int exit_code = -1;  // exit status, or 128 + signal number when killed by a signal
  std::string out;     // everything written to stdout
  std::string err;     // everything written to stderr
};

// Runs argv[0] with the given arguments, feeding `input` on stdin, and waits for it.
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input = {},
                          int timeout_seconds = 120);

// A unique scratch directory under the system temp dir, removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace rapide::testing
