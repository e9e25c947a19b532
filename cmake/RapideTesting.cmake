# rapide_add_gtest(NAME <target> SOURCES <...> LIBS <...> LABELS <...> [TIMEOUT s])
# Builds a GoogleTest executable and registers each test case with CTest.
# Test code can find ../shared through RAPIDE_SHARED_DIR (compile definition, overridable
# by the RAPIDE_SHARED_DIR environment variable) and the rapide binary through RAPIDE_BINARY.
set(RAPIDE_SHARED_DIR "${PROJECT_SOURCE_DIR}/../shared" CACHE PATH "Shared test data folder")

function(rapide_add_gtest)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} rapide_test_support GTest::gtest GTest::gtest_main rapide::warnings)
  target_include_directories(${T_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/tests/support)
  target_compile_definitions(${T_NAME} PRIVATE RAPIDE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  if(TARGET rapide)
    add_dependencies(${T_NAME} rapide)
    target_compile_definitions(${T_NAME} PRIVATE RAPIDE_BINARY="$<TARGET_FILE:rapide>")
  endif()
  gtest_discover_tests(${T_NAME}
    PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
    DISCOVERY_TIMEOUT 60)
endfunction()
