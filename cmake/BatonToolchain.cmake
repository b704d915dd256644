# Compiler launcher, linker and sanitizer settings. Included once from the top level.
find_program(BATON_CCACHE ccache)
if(BATON_CCACHE)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${BATON_CCACHE})
endif()
find_program(BATON_MOLD mold)
if(BATON_MOLD)
  add_link_options(-fuse-ld=mold)
endif()

# Warnings as one INTERFACE target that every module links.
add_library(baton_warnings INTERFACE)
target_compile_options(baton_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow
                       -Wnon-virtual-dtor -Wno-missing-field-initializers
                       # GCC 12 false positives: Asio coroutine frames (GCC bug 109224) and
                       # inlined std::string copies at -O3 (GCC bug 105329).
                       -Wno-mismatched-new-delete -Wno-restrict)
if(BATON_WERROR)
  target_compile_options(baton_warnings INTERFACE -Werror)
endif()

if(BATON_SANITIZE)
  string(REPLACE ";" "," _san "${BATON_SANITIZE}")
  add_compile_options(-fsanitize=${_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_san})
  # Sanitizer instrumentation makes GCC 12's flow analysis report uninitialized uses that are not
  # there (seen inside std::regex and Asio); the sanitizers themselves check the real thing.
  add_compile_options(-Wno-maybe-uninitialized)
  if("thread" IN_LIST BATON_SANITIZE)
    # Asio's std::atomic_thread_fence use; TSan still checks the code around it.
    add_compile_options(-Wno-tsan)
  endif()
endif()
