# shmpool_add_plugin(NAME SOURCES... OUTPUT_DIRECTORY DIR): a kernel plugin, NAME.so, built as a
# MODULE against include/shmpool/kernel.h alone (no shmpool library, no shmpool source header).
include_guard(GLOBAL)

function(shmpool_add_plugin name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "OUTPUT_DIRECTORY" "SOURCES")
  add_library(${name} MODULE ${arg_SOURCES})
  # Replaces the include path inherited from the top directory: the plugin sees only the ABI.
  set_property(TARGET ${name} PROPERTY INCLUDE_DIRECTORIES ${PROJECT_SOURCE_DIR}/include)
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    C_STANDARD 11
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY ${arg_OUTPUT_DIRECTORY})
  # Every symbol resolved at link time: a plugin needs nothing from the daemon.
  target_link_options(${name} PRIVATE -Wl,--no-undefined)
endfunction()
