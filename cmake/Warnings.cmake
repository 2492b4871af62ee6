# Project-wide warnings. Generated protobuf/gRPC code is compiled without them (see ProtoGen.cmake).
set(ASSENT_WARNINGS -Wall -Wextra -Wpedantic -Wnon-virtual-dtor -Wimplicit-fallthrough
    -Werror=unused-result -Werror=return-type)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # Locals shadowing locals. Clang has no such subset (its -Wshadow also flags members and
  # lambda captures), so the clang build (ASSENT_FUZZ) goes without it; g++ keeps checking.
  list(APPEND ASSENT_WARNINGS -Wshadow=local)
elseif(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  # librdkafka's RD_KAFKA_V_* macros expand to GNU statement expressions, which clang's -Wpedantic
  # reports at every use in our code.
  list(APPEND ASSENT_WARNINGS -Wno-gnu-statement-expression)
endif()
if(ASSENT_WERROR)
  list(APPEND ASSENT_WARNINGS -Werror)
endif()

# Applies the project warnings to a target of our own code.
function(assent_warnings target)
  target_compile_options(${target} PRIVATE ${ASSENT_WARNINGS})
endfunction()
