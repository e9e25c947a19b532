// Real clients over real pipes against the real `rapide serve` with a generated tiny model:
// Microsoft's vscode-languageserver-protocol client (Node) and Neovim's built-in client.
#include "model_fixture.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include <unistd.h>

namespace rapide::lsp {
namespace {

using rapide::testing::run_process;

std::string which(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (!path) return {};
  std::string p = path;
  std::size_t start = 0;
  while (start <= p.size()) {
    std::size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    const std::filesystem::path candidate = std::filesystem::path(p.substr(start, end - start)) / program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    start = end + 1;
  }
  return {};
}

TEST(Clients, NodeVscodeLanguageServerProtocolSession) {
  const std::string node = which("node");
  if (node.empty()) GTEST_SKIP() << "node is not installed";
  const std::filesystem::path dir = std::filesystem::path(RAPIDE_SOURCE_DIR) / "tests/lsp/node";
  if (!std::filesystem::exists(dir / "node_modules/vscode-languageserver-protocol"))
    GTEST_SKIP() << "tests/lsp/node/node_modules is missing (scripts/setup.sh runs npm ci there)";
  RAPIDE_REQUIRE_TINY_MODEL(model);
  const auto r = run_process({node, (dir / "session.test.mjs").string(), RAPIDE_BINARY, model.string()}, "", 180);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("checks passed"), std::string::npos) << r.out << r.err;
}

TEST(Clients, NeovimHeadlessHoverAndCompletion) {
  const std::string nvim = which("nvim");
  if (nvim.empty()) GTEST_SKIP() << "nvim is not installed";
  RAPIDE_REQUIRE_TINY_MODEL(model);
  const std::filesystem::path script = std::filesystem::path(RAPIDE_SOURCE_DIR) / "tests/lsp/nvim/session.lua";
  ::setenv("RAPIDE_TEST_BINARY", RAPIDE_BINARY, 1);
  ::setenv("RAPIDE_TEST_MODEL", model.c_str(), 1);
  const auto r = run_process({nvim, "--headless", "--clean", "-n", "-u", "NONE", "-c", "luafile " + script.string()},
                             "", 120);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("nvim: hover and completion received"), std::string::npos) << r.out << r.err;
}

}  // namespace
}  // namespace rapide::lsp
