# Every dependency comes from Debian 12 packages (scripts/setup.sh installs them) or from
# npm packages pinned in grammars/package-lock.json.
find_package(Threads REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
if(NOT RAPIDE_INFERENCE_ONLY)
  find_package(Boost 1.74 REQUIRED)
  find_package(spdlog 1.10 REQUIRED)
  find_package(CLI11 2.1 REQUIRED)
endif()
if(RAPIDE_TESTS)
  find_package(GTest 1.12 REQUIRED)
  include(GoogleTest)
endif()
