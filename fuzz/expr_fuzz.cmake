baton_fuzz(expr ${CMAKE_CURRENT_SOURCE_DIR}/expr_fuzz.cpp baton_expr)
