# baton_module(NAME SOURCES ... DEPS ...): one static library per module, named baton_<NAME>.
function(baton_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(baton_${name} STATIC ${ARG_SOURCES})
  target_compile_features(baton_${name} PUBLIC cxx_std_20)
  target_include_directories(baton_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(baton_${name} PUBLIC ${ARG_DEPS} PRIVATE baton_warnings)
endfunction()

# baton_test(NAME SOURCES ... DEPS ...): a GoogleTest binary registered with ctest.
function(baton_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_features(${name} PRIVATE cxx_std_20)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main GTest::gmock
                        baton_warnings)
  target_compile_definitions(${name} PRIVATE BATON_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  # Shared test helpers (tests/testing/*.hpp) are included as "testing/<name>.hpp".
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 900 LABELS ${name})
endfunction()
