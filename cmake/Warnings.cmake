# Project-wide warnings. Generated protobuf/gRPC code is compiled without them (see ProtoGen.cmake).
set(ASSENT_WARNINGS -Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor
    -Wimplicit-fallthrough -Werror=unused-result -Werror=return-type)
if(ASSENT_WERROR)
  list(APPEND ASSENT_WARNINGS -Werror)
endif()

# Applies the project warnings to a target of our own code.
function(assent_warnings target)
  target_compile_options(${target} PRIVATE ${ASSENT_WARNINGS})
endfunction()
