baton_fuzz(schema ${CMAKE_CURRENT_SOURCE_DIR}/schema_fuzz.cpp baton_schema)
