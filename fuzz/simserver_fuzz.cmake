baton_fuzz(simserver ${CMAKE_CURRENT_SOURCE_DIR}/simserver_fuzz.cpp baton_simserver)
