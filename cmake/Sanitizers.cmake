# ASSENT_SANITIZE=address builds with ASan+UBSan, =thread with TSan. CI runs both variants.
# Both keep line tables only (-g1, after the build type's -g): enough for the sanitizers' stack
# traces, and the binaries are a third of the size (CI builds three trees on one disk).
if(ASSENT_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g1)
  add_link_options(-fsanitize=address,undefined)
elseif(ASSENT_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -g1)
  add_link_options(-fsanitize=thread)
elseif(NOT ASSENT_SANITIZE STREQUAL "" AND NOT ASSENT_SANITIZE STREQUAL "OFF")
  message(FATAL_ERROR "ASSENT_SANITIZE must be '', 'address' or 'thread', not '${ASSENT_SANITIZE}'")
endif()

# ASSENT_FUZZ=ON builds the fuzz harnesses (tests/fuzz) as libFuzzer binaries: clang only
# (CMAKE_CXX_COMPILER=clang++-14, libFuzzer from libclang-rt-14-dev), every target of ours
# instrumented for coverage and built with ASan+UBSan. tools/fuzz.sh configures and runs it.
option(ASSENT_FUZZ "Build tests/fuzz as libFuzzer binaries (clang)" OFF)
if(ASSENT_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "ASSENT_FUZZ needs clang (-DCMAKE_CXX_COMPILER=clang++-14)")
  endif()
  if(NOT ASSENT_SANITIZE STREQUAL "" AND NOT ASSENT_SANITIZE STREQUAL "OFF")
    message(FATAL_ERROR "ASSENT_FUZZ brings its own sanitizers; leave ASSENT_SANITIZE empty")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
