# A CUDA build of torch (every wheel on PyPI) on a machine without a CUDA
# toolkit: torch_optspec's configure must succeed, where a project calling
# find_package(Torch) stops. The missing toolkit is emulated by disabling
# CMake's CUDA package lookups (what a machine with no toolkit gives them).
# Run with cmake -P and:
#   -DSOURCE_DIR=<torch_optspec source> -DTORCH_PREFIX=<torch's CMake prefix>
#   -DGENERATOR=<CMake generator>
foreach(var SOURCE_DIR TORCH_PREFIX GENERATOR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "no_cuda_toolkit.cmake: -D${var}=... is required")
  endif()
endforeach()
execute_process(COMMAND mktemp -d -t torch_optspec_nocuda.XXXXXX
  OUTPUT_VARIABLE tmp OUTPUT_STRIP_TRAILING_WHITESPACE)
set(no_toolkit -DCMAKE_DISABLE_FIND_PACKAGE_CUDAToolkit=ON -DCMAKE_DISABLE_FIND_PACKAGE_CUDA=ON)

# The contrast: LibTorch's own config stops without the toolkit.
file(WRITE "${tmp}/torch_only/CMakeLists.txt"
  "cmake_minimum_required(VERSION 3.21)\nproject(t LANGUAGES CXX)\nfind_package(Torch REQUIRED)\n")
execute_process(COMMAND ${CMAKE_COMMAND} -S "${tmp}/torch_only" -B "${tmp}/torch_only/build"
    -G "${GENERATOR}" "-DCMAKE_PREFIX_PATH=${TORCH_PREFIX}" ${no_toolkit}
  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(rc EQUAL 0)
  message(FATAL_ERROR "find_package(Torch) succeeded without a CUDA toolkit: "
                      "the emulation does not hold (a CPU build of torch?)")
endif()
message(STATUS "find_package(Torch) without a CUDA toolkit fails, as expected")

execute_process(COMMAND ${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${tmp}/optspec"
    -G "${GENERATOR}" "-DCMAKE_PREFIX_PATH=${TORCH_PREFIX}" ${no_toolkit}
    -DTORCH_OPTSPEC_BUILD_TESTS=OFF -DTORCH_OPTSPEC_BUILD_EXAMPLES=OFF
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "torch_optspec's configure failed without a CUDA toolkit:\n${out}\n${err}")
endif()
if(NOT out MATCHES "CUDA build; linking its CPU libraries only")
  message(FATAL_ERROR "torch_optspec did not report a CUDA build of LibTorch:\n${out}")
endif()
file(REMOVE_RECURSE "${tmp}")
message(STATUS "torch_optspec configures against a CUDA torch without a CUDA toolkit")
