#include "rapide/inference/build_info.h"

#include <gtest/gtest.h>

namespace rapide::inference {
namespace {

TEST(BuildInfo, ReportsVersionAndCompiler) {
  const BuildInfo& b = build_info();
  EXPECT_FALSE(b.version.empty());
  EXPECT_NE(b.version.find('.'), std::string::npos) << b.version;
  EXPECT_FALSE(b.compiler.empty());
#if defined(__x86_64__)
  // Every x86-64 machine rapide targets has SSE4.2; the detector must see it.
  EXPECT_NE(b.cpu_features.find("sse4.2"), std::string::npos) << b.cpu_features;
#endif
}

TEST(BuildInfo, IsStableAcrossCalls) { EXPECT_EQ(&build_info(), &build_info()); }

}  // namespace
}  // namespace rapide::inference
