baton_fuzz(sse ${CMAKE_CURRENT_SOURCE_DIR}/sse_fuzz.cpp baton_http)
