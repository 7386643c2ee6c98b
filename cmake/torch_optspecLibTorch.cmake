# LibTorch for torch_optspec: the imported target torch_optspec::libtorch
# (LibTorch's CPU libraries, libc10 and libtorch_cpu, with its headers and
# C++20), and the variables
#   TORCH_OPTSPEC_TORCH_VERSION     LibTorch's version, e.g. 2.15.0
#   TORCH_OPTSPEC_TORCH_CMAKE_DIR   the directory of its TorchConfig.cmake
#   TORCH_OPTSPEC_TORCH_CUDA        ON for a CUDA build of LibTorch
#   TORCH_OPTSPEC_TORCH_FOUND       FALSE, with TORCH_OPTSPEC_TORCH_ERROR,
#                                   when LibTorch is not found (the includer
#                                   decides: an error or a package not found)
# Included by CMakeLists.txt and by the installed torch_optspecConfig.cmake.
#
# Why not find_package(Torch): torch_optspec has no CUDA code, and
# - the TorchConfig.cmake of a CUDA build (every torch wheel on PyPI, the CUDA
#   LibTorch archives) includes Caffe2's public/cuda.cmake and stops without a
#   CUDA toolkit ("Your installed Caffe2 version uses CUDA but I cannot find
#   the CUDA libraries");
# - its `torch` target links libtorch_cuda with --no-as-needed, so a library
#   linked with it would not load with the CPU build of the same torch.
# Linked with libc10 and libtorch_cpu only, one build of torch_optspec serves
# the CPU and the CUDA build of its torch version, and builds on a machine
# with no CUDA toolkit. A project that needs LibTorch's CUDA libraries itself
# still calls find_package(Torch); both can be linked into one program.
#
# Where LibTorch is looked for, in order: Torch_DIR (the directory of
# TorchConfig.cmake, cmake or environment variable), CMAKE_PREFIX_PATH (cmake
# or environment: for the pip wheel, python -c 'import torch;
# print(torch.utils.cmake_prefix_path)'; for a LibTorch archive, its root),
# then TORCH_OPTSPEC_TORCH_HINT (the installed package config sets it to the
# LibTorch the library was built against).
if(TARGET torch_optspec::libtorch)
  set(TORCH_OPTSPEC_TORCH_FOUND TRUE)
  return()
endif()

set(_optspec_hints "${Torch_DIR}" "$ENV{Torch_DIR}" ${CMAKE_PREFIX_PATH})
if(DEFINED ENV{CMAKE_PREFIX_PATH})
  string(REPLACE ":" ";" _optspec_env_prefix "$ENV{CMAKE_PREFIX_PATH}")
  list(APPEND _optspec_hints ${_optspec_env_prefix})
endif()
list(APPEND _optspec_hints ${TORCH_OPTSPEC_TORCH_HINT})
# NO_CACHE: searched at every configure, so a changed Torch_DIR or
# CMAKE_PREFIX_PATH takes effect (-DTORCH_OPTSPEC_TORCH_CMAKE_DIR=... still
# forces a directory).
find_path(TORCH_OPTSPEC_TORCH_CMAKE_DIR TorchConfig.cmake
  HINTS ${_optspec_hints}
  PATH_SUFFIXES Torch share/cmake/Torch
  NO_DEFAULT_PATH NO_CACHE)
if(NOT TORCH_OPTSPEC_TORCH_CMAKE_DIR)
  set(TORCH_OPTSPEC_TORCH_FOUND FALSE)
  string(CONCAT TORCH_OPTSPEC_TORCH_ERROR
    "torch_optspec: LibTorch not found. Put its CMake prefix on CMAKE_PREFIX_PATH "
    "(pip's torch: python -c 'import torch; print(torch.utils.cmake_prefix_path)'; "
    "a LibTorch archive: its root) or set Torch_DIR to the directory of TorchConfig.cmake.")
  return()
endif()

# TorchConfigVersion.cmake sets PACKAGE_VERSION (and compares it with
# PACKAGE_FIND_VERSION): read in a function's scope.
function(_torch_optspec_read_torch_version dir out)
  set(PACKAGE_FIND_VERSION "0")
  include("${dir}/TorchConfigVersion.cmake")
  set(${out} "${PACKAGE_VERSION}" PARENT_SCOPE)
endfunction()
_torch_optspec_read_torch_version("${TORCH_OPTSPEC_TORCH_CMAKE_DIR}" TORCH_OPTSPEC_TORCH_VERSION)

get_filename_component(_optspec_torch_root "${TORCH_OPTSPEC_TORCH_CMAKE_DIR}/../../.." ABSOLUTE)
foreach(_optspec_lib c10 torch_cpu)
  find_library(TORCH_OPTSPEC_${_optspec_lib}_LIBRARY ${_optspec_lib}
    PATHS "${_optspec_torch_root}/lib" NO_DEFAULT_PATH NO_CACHE)
  if(NOT TORCH_OPTSPEC_${_optspec_lib}_LIBRARY)
    set(TORCH_OPTSPEC_TORCH_FOUND FALSE)
    set(TORCH_OPTSPEC_TORCH_ERROR "torch_optspec: lib${_optspec_lib} not found in ${_optspec_torch_root}/lib")
    return()
  endif()
endforeach()
if(EXISTS "${_optspec_torch_root}/lib/libtorch_cuda.so")
  set(TORCH_OPTSPEC_TORCH_CUDA ON)
else()
  set(TORCH_OPTSPEC_TORCH_CUDA OFF)
endif()

set(TORCH_OPTSPEC_TORCH_FOUND TRUE)
# The C++ ABI LibTorch was built with, where its TorchConfig.cmake states it
# (TORCH_CXX_FLAGS; the wheels since torch 2.7 use the new ABI, the
# compilers' default, and state nothing).
file(STRINGS "${TORCH_OPTSPEC_TORCH_CMAKE_DIR}/TorchConfig.cmake" _optspec_abi
     REGEX "_GLIBCXX_USE_CXX11_ABI=[01]")
string(REGEX MATCH "_GLIBCXX_USE_CXX11_ABI=[01]" _optspec_abi "${_optspec_abi}")
add_library(torch_optspec::libtorch INTERFACE IMPORTED)
if(_optspec_abi)
  set_property(TARGET torch_optspec::libtorch PROPERTY
    INTERFACE_COMPILE_DEFINITIONS "${_optspec_abi}")
endif()
set_target_properties(torch_optspec::libtorch PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES
    "${_optspec_torch_root}/include;${_optspec_torch_root}/include/torch/csrc/api/include"
  INTERFACE_LINK_LIBRARIES
    "${TORCH_OPTSPEC_torch_cpu_LIBRARY};${TORCH_OPTSPEC_c10_LIBRARY}"
  # LibTorch's headers need C++20 (TorchConfig sets CXX_STANDARD 20 on its
  # own target).
  INTERFACE_COMPILE_FEATURES cxx_std_20)
if(NOT CMAKE_FIND_QUIETLY AND NOT torch_optspec_FIND_QUIETLY)
  if(TORCH_OPTSPEC_TORCH_CUDA)
    set(_optspec_kind "CUDA build; linking its CPU libraries only")
  else()
    set(_optspec_kind "CPU build")
  endif()
  message(STATUS "torch_optspec: LibTorch ${TORCH_OPTSPEC_TORCH_VERSION} in "
                 "${_optspec_torch_root} (${_optspec_kind})")
endif()
unset(_optspec_hints)
unset(_optspec_env_prefix)
unset(_optspec_lib)
unset(_optspec_kind)
unset(_optspec_abi)
