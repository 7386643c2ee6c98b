# (d) Installs torch_optspec into a temporary prefix, then configures, builds
# and runs tests/cpp/consumer against it with find_package, in a temporary
# directory. Run with cmake -P and:
#   -DBUILD_DIR=<torch_optspec build tree> -DSOURCE_DIR=<tests/cpp/consumer>
#   -DTORCH_PREFIX=<torch's CMake prefix> -DGENERATOR=<CMake generator>
foreach(var BUILD_DIR SOURCE_DIR TORCH_PREFIX GENERATOR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_consumer.cmake: -D${var}=... is required")
  endif()
endforeach()

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}")
  endif()
endfunction()

execute_process(COMMAND mktemp -d -t torch_optspec_consumer.XXXXXX
  OUTPUT_VARIABLE tmp OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "mktemp failed")
endif()
set(prefix "${tmp}/prefix")
set(build "${tmp}/build")

run(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
foreach(f include/torch_optspec/torch_optspec.h
          lib/cmake/torch_optspec/torch_optspecConfig.cmake)
  if(NOT EXISTS "${prefix}/${f}")
    message(FATAL_ERROR "not installed: ${prefix}/${f}")
  endif()
endforeach()

# The installed library is relocatable: its RUNPATH is $ORIGIN-relative (the
# CMake default, TORCH_OPTSPEC_INSTALL_RPATH), and with LibTorch's lib/
# supplied by the host it resolves every dependency.
execute_process(COMMAND readelf -d "${prefix}/lib/libtorch_optspec.so"
  OUTPUT_VARIABLE dynamic RESULT_VARIABLE rc)
if(rc EQUAL 0)
  string(REGEX MATCH "RUNPATH[^\n]*" runpath "${dynamic}")
  # No absolute entry: "[/..." or ":/..." in readelf's "Library runpath: [...]".
  if(NOT runpath MATCHES "ORIGIN" OR runpath MATCHES "[[:]/")
    message(FATAL_ERROR "installed libtorch_optspec.so is not relocatable: ${runpath}")
  endif()
endif()
get_filename_component(torch_lib "${TORCH_PREFIX}/../../lib" ABSOLUTE)
file(GET_RUNTIME_DEPENDENCIES
  LIBRARIES "${prefix}/lib/libtorch_optspec.so"
  DIRECTORIES "${torch_lib}"
  UNRESOLVED_DEPENDENCIES_VAR unresolved)
if(unresolved)
  message(FATAL_ERROR "installed libtorch_optspec.so cannot find: ${unresolved}")
endif()

# (the list's ";" escaped: run() passes its arguments on as a list)
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${build}" -G "${GENERATOR}"
    "-DCMAKE_PREFIX_PATH=${prefix}\\;${TORCH_PREFIX}")
run(${CMAKE_COMMAND} --build "${build}")
# Linking loads the library: TORCH_OPTSPEC_ENABLE=1 decides the initial state.
run(${CMAKE_COMMAND} -E env --unset=TORCH_OPTSPEC_ENABLE "${build}/consumer" disabled)
run(${CMAKE_COMMAND} -E env TORCH_OPTSPEC_ENABLE=1 "${build}/consumer" enabled)

file(REMOVE_RECURSE "${tmp}")
message(STATUS "consumer built and ran against ${prefix}")
