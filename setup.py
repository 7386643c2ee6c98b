"""Build torch_optspec: libtorch_optspec (CMake, CMakeLists.txt) and the thin
Python binding torch_optspec._C that links it.

    pip install --no-build-isolation .   # needs torch 2.11-2.15, cmake, ninja

The build runs CMake to build and install libtorch_optspec, its header and its
CMake package into the package directory (torch_optspec/lib, include,
lib/cmake), then builds _C against it. The version comes from version.txt;
the wheel's version carries the torch minor it was built for (0.2.0+pt213)
and requires that torch major.minor. One build serves the CPU and the CUDA
build of that torch (the library links LibTorch's CPU libraries only:
cmake/torch_optspecLibTorch.cmake), and needs no CUDA toolkit.

Environment:
    MAX_JOBS                         parallel compile jobs (default 2)
    TORCH_OPTSPEC_CMAKE_BUILD_DIR    CMake build tree (default build/cmake-<torch>)
    TORCH_OPTSPEC_CMAKE_ARGS         extra CMake arguments, after setup.py's own
                                     (tests and examples are off unless this says
                                     -DTORCH_OPTSPEC_BUILD_TESTS=ON, ...EXAMPLES=ON)
"""
import os
import shlex
import subprocess
import sys

from setuptools import setup

ROOT = os.path.dirname(os.path.abspath(__file__))

# The torch minors the sources build against (their differences for users:
# the "torch versions" section of csrc/include/torch_optspec/torch_optspec.h): the requirement of an sdist made without torch (a built
# wheel requires the torch minor it was built with).
SUPPORTED_TORCH = ((2, 11), (2, 15))
SUPPORTED_TEXT = "{}.{}-{}.{}".format(*SUPPORTED_TORCH[0], *SUPPORTED_TORCH[1])

# Commands that only write metadata or the source archive: they need no
# torch, so `python -m build --sdist` works in its isolated environment.
_COMMANDS = [a for a in sys.argv[1:] if not a.startswith("-")]
METADATA_ONLY = bool(_COMMANDS) and _COMMANDS[0] in ("sdist", "egg_info", "dist_info")

try:
    import torch
    from torch.utils.cpp_extension import BuildExtension, CppExtension
except ImportError:
    if not METADATA_ONLY:
        # One line, the only one pip shows in its error box. Under pip's build
        # isolation torch is missing even when the user's environment has it.
        sys.exit(
            f"torch_optspec: the build needs torch {SUPPORTED_TEXT} importable, and pip's "
            f"isolated build environment has none; with torch {SUPPORTED_TEXT}, cmake and "
            "ninja installed, run: pip install --no-build-isolation ."
        )
    torch = None

VERSION = open(os.path.join(ROOT, "version.txt")).read().strip()
if torch is not None:
    TORCH_RELEASE = torch.__version__.split("+")[0]
    TORCH_MAJOR, TORCH_MINOR = (int(p) for p in TORCH_RELEASE.split(".")[:2])
    if not SUPPORTED_TORCH[0] <= (TORCH_MAJOR, TORCH_MINOR) <= SUPPORTED_TORCH[1]:
        sys.exit(f"torch_optspec: builds against torch {SUPPORTED_TEXT}; "
                 f"this environment has torch {torch.__version__}")
    # No cpu/cuXYZ tag: the build runs with either build of that torch.
    LOCAL_VERSION = f"{VERSION}+pt{TORCH_MAJOR}{TORCH_MINOR}"
    # The one torch rule: the torch major.minor the build used, any patch.
    TORCH_REQUIREMENT = f"torch>={TORCH_MAJOR}.{TORCH_MINOR},<{TORCH_MAJOR}.{TORCH_MINOR + 1}"
else:
    # an sdist (or its metadata) without torch: no torch tag, the whole range
    LOCAL_VERSION = VERSION
    TORCH_REQUIREMENT = "torch>={}.{},<{}.{}".format(*SUPPORTED_TORCH[0], SUPPORTED_TORCH[1][0],
                                                     SUPPORTED_TORCH[1][1] + 1)


def write_build_info(package_dir):
    path = os.path.join(package_dir, "_build_info.py")
    text = (
        "# Written by setup.py at build time; do not edit.\n"
        f"VERSION = {VERSION!r}\n"
        f"WHEEL_VERSION = {LOCAL_VERSION!r}\n"
        f"TORCH_VERSION = {TORCH_RELEASE!r}\n"
    )
    os.makedirs(package_dir, exist_ok=True)
    if not os.path.exists(path) or open(path).read() != text:
        with open(path, "w") as f:
            f.write(text)


if torch is None:
    # metadata and sdist only: the extension is listed, never built
    from setuptools import Extension as CppExtension  # noqa: E402
    BuildExtension = object


class BuildWithLibrary(BuildExtension):
    """Builds and installs libtorch_optspec with CMake, then the extension."""

    def run(self):
        package_dir = os.path.dirname(os.path.abspath(self.get_ext_fullpath("torch_optspec._C")))
        write_build_info(package_dir)
        if not self.inplace:
            write_build_info(os.path.join(ROOT, "torch_optspec"))
        build_dir = os.environ.get("TORCH_OPTSPEC_CMAKE_BUILD_DIR") or os.path.join(
            ROOT, "build", f"cmake-{TORCH_RELEASE}")
        jobs = os.environ.get("MAX_JOBS", "2")
        cmake = os.environ.get("CMAKE", "cmake")
        configure = [
            cmake, "-S", ROOT, "-B", build_dir, "-G", "Ninja",
            "-DCMAKE_BUILD_TYPE=Release",
            f"-DCMAKE_PREFIX_PATH={torch.utils.cmake_prefix_path}",
            "-DCMAKE_INSTALL_LIBDIR=lib",
            # site-packages/torch_optspec/lib -> site-packages/torch/lib
            "-DTORCH_OPTSPEC_INSTALL_RPATH=$ORIGIN/../../torch/lib",
            f"-DPython3_EXECUTABLE={sys.executable}",
            # The library only: tests/cpp and examples/cpp are not in the sdist
            # (TORCH_OPTSPEC_CMAKE_ARGS, which comes last, can turn them on).
            "-DTORCH_OPTSPEC_BUILD_TESTS=OFF",
            "-DTORCH_OPTSPEC_BUILD_EXAMPLES=OFF",
        ] + shlex.split(os.environ.get("TORCH_OPTSPEC_CMAKE_ARGS", ""))
        for cmd in (configure,
                    [cmake, "--build", build_dir, "-j", jobs],
                    [cmake, "--install", build_dir, "--prefix", package_dir]):
            subprocess.check_call(cmd)
        for ext in self.extensions:
            ext.library_dirs.append(os.path.join(package_dir, "lib"))
        super().run()


setup(
    name="torch_optspec",
    version=LOCAL_VERSION,
    packages=["torch_optspec"],
    package_data={"torch_optspec": ["py.typed", "_C.pyi"]},
    install_requires=[TORCH_REQUIREMENT],
    ext_modules=[
        CppExtension(
            name="torch_optspec._C",
            sources=["csrc/python/bindings.cpp"],
            include_dirs=[os.path.join(ROOT, "csrc"), os.path.join(ROOT, "csrc", "include")],
            libraries=["torch_optspec"],
            extra_compile_args=["-O2", "-g0", "-fvisibility=hidden"],
            # The library sits in the package's lib/ (installed by CMake above).
            extra_link_args=["-Wl,-rpath,$ORIGIN/lib"],
        )
    ],
    cmdclass={"build_ext": BuildWithLibrary.with_options(use_ninja=True)} if torch else {},
)
