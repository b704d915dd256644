baton_fuzz(dsl ${CMAKE_CURRENT_SOURCE_DIR}/dsl_fuzz.cpp baton_dsl)
