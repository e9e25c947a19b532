#include "rapide/lsp/server_info.h"

#include <gtest/gtest.h>

namespace rapide::lsp {
namespace {

TEST(ServerInfo, NamesTheServerAndVersion) {
  const nlohmann::json info = server_info();
  EXPECT_EQ(info.at("name").get<std::string>(), "rapide");
  EXPECT_FALSE(info.at("version").get<std::string>().empty());
}

}  // namespace
}  // namespace rapide::lsp
