// Runs the real `rapide` binary as a subprocess.
#include "rapide/inference/build_info.h"
#include "test_support.h"

#include <gtest/gtest.h>

namespace rapide {
namespace {

using testing::run_process;

TEST(Cli, VersionPrintsVersionAndBackends) {
  const auto r = run_process({RAPIDE_BINARY, "--version"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("rapide " + inference::build_info().version + "\n", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("cuda backend:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cpu features:"), std::string::npos) << r.out;
}

TEST(Cli, HelpListsUsage) {
  const auto r = run_process({RAPIDE_BINARY, "--help"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("--version"), std::string::npos) << r.out;
}

TEST(Cli, UnknownCommandFailsWithMessage) {
  const auto r = run_process({RAPIDE_BINARY, "no-such-command"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE((r.out + r.err).find("no-such-command"), std::string::npos) << r.out << r.err;
}

}  // namespace
}  // namespace rapide
