# assent_proto_library(NAME <target> PROTOS <files relative to ROOT> [ROOT <dir>, default proto/]
#                      [GRPC])
# Generates C++ (and gRPC service code when GRPC is given) into the build tree and wraps it in one
# static library target, so generated code is compiled once and never mixed with ours.
function(assent_proto_library)
  cmake_parse_arguments(ARG "GRPC" "NAME;ROOT" "PROTOS;DEPS" ${ARGN})
  set(proto_root ${CMAKE_SOURCE_DIR}/proto)
  if(ARG_ROOT)
    set(proto_root ${ARG_ROOT})
  endif()
  set(out ${CMAKE_BINARY_DIR}/gen)
  file(MAKE_DIRECTORY ${out})
  set(srcs)
  set(abs_protos)
  foreach(p ${ARG_PROTOS})
    get_filename_component(dir ${p} DIRECTORY)
    get_filename_component(stem ${p} NAME_WE)
    list(APPEND abs_protos ${proto_root}/${p})
    set(gen ${out}/${dir}/${stem}.pb.cc ${out}/${dir}/${stem}.pb.h)
    set(plugin_args)
    if(ARG_GRPC)
      list(APPEND gen ${out}/${dir}/${stem}.grpc.pb.cc ${out}/${dir}/${stem}.grpc.pb.h)
      set(plugin_args --grpc_out=${out} --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>)
    endif()
    add_custom_command(
      OUTPUT ${gen}
      COMMAND protobuf::protoc --proto_path=${proto_root} --cpp_out=${out} ${plugin_args}
              ${proto_root}/${p}
      DEPENDS ${proto_root}/${p} protobuf::protoc
      COMMENT "protoc ${p}"
      VERBATIM)
    list(APPEND srcs ${gen})
  endforeach()
  add_library(${ARG_NAME} STATIC ${srcs})
  target_include_directories(${ARG_NAME} PUBLIC ${out})
  target_link_libraries(${ARG_NAME} PUBLIC protobuf::libprotobuf ${ARG_DEPS})
  if(ARG_GRPC)
    target_link_libraries(${ARG_NAME} PUBLIC gRPC::grpc++)
  endif()
endfunction()
