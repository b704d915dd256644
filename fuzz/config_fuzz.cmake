baton_fuzz(config ${CMAKE_CURRENT_SOURCE_DIR}/config_fuzz.cpp baton_dsl)
