# The module graph, written once. Every folder of product code is one module: one target, made by
# pipeshard_module() in the folder's CMakeLists.txt, with the modules it may use named in DEPS
# (its interface: linked PUBLIC, so whoever uses the module may use them too) or PRIVATE_DEPS
# (its implementation: linked PRIVATE, usable by the module itself only -- the kernel registry
# and the CPU and CUDA backends it dispatches to). CMake links those targets, and
# pipeshard_modules_write() puts the same graph in ${PROJECT_BINARY_DIR}/modules.txt, which the
# `layering` test (tools/ci/check_layering.cmake) reads to fail on an include from a folder that a
# module may not use. docs/DESIGN.md draws the graph.
#
#   pipeshard_module(<target> FOLDER <path from the project root>
#                    [SOURCES <files>...]   default: the folder's *.cpp (no sources: header-only)
#                    [DEPS <module targets>...] [PRIVATE_DEPS <module targets>...]
#                    [PUBLIC_LIBS <libs>...] [PRIVATE_LIBS <libs>...]
#                    [ENABLED <bool>]  default ON; OFF records the module in the graph (its folder
#                                      is still checked) but builds no target -- the CUDA
#                                      modules in a CPU-only build. Dependents skip linking it.
#                    [EXECUTABLE <name>])  the folder is one program (tools/cli) instead of a library
#   pipeshard_module_declare(<name> FOLDER <path> [DEPS ...] [PRIVATE_DEPS ...])
#       records a folder that builds its own targets (one benchmark binary per file) in the graph;
#       it links them to pipeshard_module_libraries(<name>).

set_property(GLOBAL PROPERTY PIPESHARD_MODULES "")

function(pipeshard_module_declare name)
  cmake_parse_arguments(PARSE_ARGV 1 M "" "FOLDER" "DEPS;PRIVATE_DEPS")
  if(NOT M_FOLDER)
    message(FATAL_ERROR "pipeshard_module(${name}): FOLDER is required")
  endif()
  get_property(known GLOBAL PROPERTY PIPESHARD_MODULES)
  if(name IN_LIST known)
    message(FATAL_ERROR "pipeshard_module(${name}): declared twice")
  endif()
  set_property(GLOBAL APPEND PROPERTY PIPESHARD_MODULES ${name})
  set_property(GLOBAL PROPERTY PIPESHARD_MODULE_FOLDER_${name} ${M_FOLDER})
  set_property(GLOBAL PROPERTY PIPESHARD_MODULE_DEPS_${name} ${M_DEPS})
  set_property(GLOBAL PROPERTY PIPESHARD_MODULE_PRIVATE_DEPS_${name} ${M_PRIVATE_DEPS})
endfunction()

# The built modules among a declared module's dependencies, for folders with their own targets.
function(pipeshard_module_libraries name out)
  get_property(deps GLOBAL PROPERTY PIPESHARD_MODULE_DEPS_${name})
  get_property(private_deps GLOBAL PROPERTY PIPESHARD_MODULE_PRIVATE_DEPS_${name})
  list(APPEND deps ${private_deps})
  set(libs "")
  foreach(d ${deps})
    if(TARGET ${d})
      list(APPEND libs ${d})
    endif()
  endforeach()
  set(${out} ${libs} PARENT_SCOPE)
endfunction()

function(pipeshard_module target)
  cmake_parse_arguments(PARSE_ARGV 1 M "" "FOLDER;ENABLED;EXECUTABLE"
                        "SOURCES;DEPS;PRIVATE_DEPS;PUBLIC_LIBS;PRIVATE_LIBS")
  pipeshard_module_declare(${target} FOLDER ${M_FOLDER} DEPS ${M_DEPS} PRIVATE_DEPS ${M_PRIVATE_DEPS})
  if(DEFINED M_ENABLED AND NOT M_ENABLED)
    return()
  endif()
  if(NOT DEFINED M_SOURCES)
    file(GLOB M_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${M_FOLDER}/*.cpp)
  endif()
  if(M_EXECUTABLE)
    add_executable(${target} ${M_SOURCES})
    set_target_properties(${target} PROPERTIES OUTPUT_NAME ${M_EXECUTABLE}
                                               RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin)
    set(scope PRIVATE)
  elseif(M_SOURCES)
    add_library(${target} STATIC ${M_SOURCES})
    set(scope PUBLIC)
  else()
    if(M_PRIVATE_DEPS OR M_PRIVATE_LIBS)
      message(FATAL_ERROR "pipeshard_module(${target}): a header-only module has no private dependencies")
    endif()
    add_library(${target} INTERFACE)
    set(scope INTERFACE)
  endif()
  target_link_libraries(${target} ${scope} ${M_PUBLIC_LIBS})
  if(M_PRIVATE_LIBS)
    target_link_libraries(${target} PRIVATE ${M_PRIVATE_LIBS})
  endif()
  # Dependencies are linked at the end, once every folder has declared (or disabled) its module.
  set_property(GLOBAL PROPERTY PIPESHARD_MODULE_SCOPE_${target} ${scope})
endfunction()

# Links each built module to its built dependencies and writes modules.txt: one line per module,
# "<folder>: <DEPS folders> | <PRIVATE_DEPS folders>", direct dependencies only (the checker
# closes them: a module may use its dependencies and, through them, their DEPS).
function(pipeshard_modules_write)
  get_property(modules GLOBAL PROPERTY PIPESHARD_MODULES)
  set(lines "")
  foreach(m ${modules})
    get_property(folder GLOBAL PROPERTY PIPESHARD_MODULE_FOLDER_${m})
    get_property(deps GLOBAL PROPERTY PIPESHARD_MODULE_DEPS_${m})
    get_property(private_deps GLOBAL PROPERTY PIPESHARD_MODULE_PRIVATE_DEPS_${m})
    get_property(scope GLOBAL PROPERTY PIPESHARD_MODULE_SCOPE_${m})
    set(line "${folder}:")
    foreach(kind public private)
      if(kind STREQUAL "public")
        set(list ${deps})
        set(link_scope ${scope})
      else()
        set(list ${private_deps})
        set(link_scope PRIVATE)
        string(APPEND line " |")
      endif()
      foreach(d ${list})
        if(scope AND TARGET ${m} AND TARGET ${d})
          target_link_libraries(${m} ${link_scope} ${d})
        endif()
        get_property(df GLOBAL PROPERTY PIPESHARD_MODULE_FOLDER_${d})
        if(NOT df)
          message(FATAL_ERROR "module ${m} (${folder}) depends on ${d}, which is not a pipeshard_module")
        endif()
        string(APPEND line " ${df}")
      endforeach()
    endforeach()
    string(APPEND lines "${line}\n")
  endforeach()
  file(WRITE ${PROJECT_BINARY_DIR}/modules.txt "${lines}")
endfunction()
