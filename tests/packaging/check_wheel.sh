#!/usr/bin/env bash
# The sdist and the wheel as a new user gets them (`make test-package`; not
# part of `make test`: it compiles libtorch_optspec twice, several minutes each).
#
#   tests/packaging/check_wheel.sh [WORKDIR]
#
# In WORKDIR (default: a new /tmp/torch_optspec_package.XXXXXX, removed on
# success), with a fresh venv holding only torch, cmake, ninja, setuptools,
# wheel and build:
#   1. the sdist of this checkout carries what the build needs (csrc/, CMake
#      files, version.txt, metadata files) and nothing of tests/; built
#      isolated (no torch), it has the same files;
#   2. a plain (isolated) `pip install <sdist>` stops with the one-line
#      message naming --no-build-isolation;
#   3. `pip wheel --no-build-isolation` builds the torch-tagged wheel from the
#      sdist; installed, it imports from outside the checkout, stats() works,
#      the pass specializes a scripted module, the wheel holds the library,
#      its header and its CMake package, every RUNPATH is $ORIGIN-relative and
#      resolves, and tests/cpp/consumer builds against it with
#      find_package(torch_optspec) and runs;
#   4. the same checks after `pip install --no-build-isolation <sdist>`
#      (skipped with CHECK_SDIST_INSTALL=0).
#
# Environment: PYTHON (the interpreter for the venv, default python3),
# TORCH_VERSION (2.13.0), TORCH_INDEX_URL (PyTorch's CPU index, as in the
# Makefile; empty where a local wheel directory provides torch), MAX_JOBS (2).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PYTHON=${PYTHON:-python3}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
TORCH_INDEX_URL=${TORCH_INDEX_URL-https://download.pytorch.org/whl/cpu}
CHECK_SDIST_INSTALL=${CHECK_SDIST_INSTALL:-1}
export MAX_JOBS=${MAX_JOBS:-2}
if [[ $# -ge 1 ]]; then
  WORK=$1
  mkdir -p "$WORK"
  KEEP=1
else
  WORK=$(mktemp -d /tmp/torch_optspec_package.XXXXXX)
  KEEP=0
fi
WORK=$(cd "$WORK" && pwd)
VENV=$WORK/venv
PY=$VENV/bin/python
# The venv's cmake and ninja, as pip's build would find them.
export PATH=$VENV/bin:$PATH
unset TORCH_OPTSPEC_ENABLE TORCH_OPTSPEC_CMAKE_ARGS TORCH_OPTSPEC_CMAKE_BUILD_DIR LD_PRELOAD
# torch warns on import when numpy is missing; the venv has no numpy on purpose.
export PYTHONWARNINGS="ignore:Failed to initialize NumPy"

step() { printf '\n=== %s\n' "$*"; }
fail() { printf 'check_wheel: FAILED: %s\n' "$*" >&2; exit 1; }
pip_quiet() { "$PY" -m pip --disable-pip-version-check "$@" 2>&1 | grep -v 'is ignored: it is neither' || return "${PIPESTATUS[0]}"; }

step "venv $VENV: torch==$TORCH_VERSION, cmake, ninja, setuptools, wheel, build"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
pip_quiet install --quiet --upgrade pip
pip_quiet install --quiet "torch==$TORCH_VERSION" \
  ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"}
pip_quiet install --quiet "cmake>=3.21" ninja "setuptools>=77" wheel build
"$PY" -c 'import torch, cmake, ninja, setuptools; print("torch", torch.__version__, "setuptools", setuptools.__version__)'

step "1. sdist"
DIST=$WORK/dist
rm -rf "$DIST"
had_egg_info=0
[[ ! -e $ROOT/torch_optspec.egg-info ]] || had_egg_info=1
(cd "$ROOT" && "$PY" -m build --sdist --no-isolation --outdir "$DIST" >"$WORK/sdist.log" 2>&1) \
  || { tail -30 "$WORK/sdist.log"; fail "python -m build --sdist"; }
# setuptools leaves an egg-info in the checkout; remove it unless it was there.
[[ $had_egg_info == 1 ]] || rm -rf "$ROOT/torch_optspec.egg-info"
SDIST=$(ls "$DIST"/torch_optspec-*.tar.gz)
echo "$SDIST"
tar tzf "$SDIST" | sed 's|^[^/]*/||' | grep -v '/$' | sort >"$WORK/sdist.txt"
for f in CMakeLists.txt cmake/torch_optspecConfig.cmake.in version.txt setup.py \
         pyproject.toml LICENSE README.md torch_optspec/__init__.py \
         torch_optspec/py.typed torch_optspec/_C.pyi; do
  grep -qx "$f" "$WORK/sdist.txt" || fail "sdist lacks $f"
done
(cd "$ROOT" && find csrc -name '*.h' -o -name '*.cpp') | sort | while read -r f; do
  grep -qx "$f" "$WORK/sdist.txt" || fail "sdist lacks $f"
done
if grep -E '^(tests|examples|bench)/|_build_info\.py|\.so$' "$WORK/sdist.txt"; then
  fail "sdist carries files it should not (above)"
fi
echo "sdist: $(wc -l <"$WORK/sdist.txt") files, csrc/: $(grep -c '^csrc/' "$WORK/sdist.txt")"
# The sdist needs no torch: built in build's isolated environment it has the
# same files (its version has no torch tag).
(cd "$ROOT" && "$PY" -m build --sdist --outdir "$WORK/dist-isolated" >"$WORK/sdist-isolated.log" 2>&1) \
  || { tail -30 "$WORK/sdist-isolated.log"; fail "isolated python -m build --sdist"; }
[[ $had_egg_info == 1 ]] || rm -rf "$ROOT/torch_optspec.egg-info"
tar tzf "$WORK"/dist-isolated/torch_optspec-*.tar.gz | sed 's|^[^/]*/||' | grep -v '/$' | sort \
  | diff - "$WORK/sdist.txt" || fail "the isolated sdist has other files"

step "2. plain pip install (isolated build) stops with the one-line message"
set +e
"$PY" -m pip --disable-pip-version-check install --no-cache-dir "$SDIST" >"$WORK/isolated.log" 2>&1
rc=$?
set -e
grep -v 'is ignored: it is neither' "$WORK/isolated.log" | sed -n '/Getting requirements/,$p'
[[ $rc -ne 0 ]] || fail "an isolated build went through"
grep -q 'pip install --no-build-isolation' "$WORK/isolated.log" || fail "no --no-build-isolation hint"
# from outside the checkout (from the repository root, a built checkout's own
# package directory would import)
! (cd "$WORK" && "$PY" -c 'import torch_optspec' 2>/dev/null) || fail "torch_optspec got installed"

# check_installed <label>: the installed package, from outside the checkout.
check_installed() {
  local label=$1
  cd "$WORK"
  # A file, not stdin: torch.jit.script reads the module's source.
  cat >"$WORK/check_installed.py" <<'EOF'
import os, sys, sysconfig
import torch
import torch_optspec
from typing import Optional

root = os.path.realpath(sys.argv[1])
pkg = os.path.realpath(os.path.dirname(torch_optspec.__file__))
site = os.path.realpath(sysconfig.get_paths()["platlib"])
assert pkg == os.path.join(site, "torch_optspec"), (pkg, site)
assert not pkg.startswith(root + os.sep), pkg
assert os.path.realpath(torch_optspec.cmake_prefix_path) == pkg, torch_optspec.cmake_prefix_path
print("torch_optspec", torch_optspec.__version__, "from", pkg, "with torch", torch.__version__)
tag = "+pt%d%dcpu" % tuple(int(p) for p in torch.__version__.split(".")[:2])
assert torch_optspec.__version__.endswith(tag), torch_optspec.__version__

for f in ["lib/libtorch_optspec.so",
          "include/torch_optspec/torch_optspec.h",
          "lib/cmake/torch_optspec/torch_optspecConfig.cmake",
          "lib/cmake/torch_optspec/torch_optspecConfigVersion.cmake",
          "lib/cmake/torch_optspec/torch_optspecTargets.cmake",
          "py.typed", "_C.pyi", "_build_info.py"]:
    assert os.path.isfile(os.path.join(pkg, f)), f"not installed: {f}"

s = torch_optspec.stats()
assert isinstance(s, dict) and "graphs_specialized" in s, s

class Masked(torch.nn.Module):
    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None):
        y = x / 2.0
        if mask is not None:
            y = y + mask
        return torch.softmax(y, -1)

m = torch.jit.script(Masked().eval())
x, mask = torch.randn(2, 4), torch.zeros(2, 4)
torch_optspec.reset_stats()
with torch_optspec.enabled(), torch.no_grad():
    for _ in range(4):
        out = m(x, mask)
assert torch.allclose(out, Masked()(x, mask))
s = torch_optspec.stats()
assert s["graphs_specialized"] >= 1, s
print("stats():", {k: v for k, v in s.items() if v})
EOF
  "$PY" "$WORK/check_installed.py" "$ROOT"
  local pkg
  pkg=$("$PY" -c 'import torch_optspec; print(torch_optspec.cmake_prefix_path)')
  # Every RUNPATH entry is $ORIGIN-relative (no path of the build machine),
  # and the dynamic linker resolves every dependency: the library's through
  # its RUNPATH alone; _C's LibTorch dependencies (libc10, libtorch_cpu, ...)
  # come from torch/lib, loaded by `import torch` before _C, as for any torch
  # extension (LD_LIBRARY_PATH stands in for that here).
  local so runpath torch_lib
  torch_lib=$("$PY" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null)
  for so in "$pkg"/_C*.so "$pkg"/lib/libtorch_optspec.so; do
    runpath=$(readelf -d "$so" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p')
    echo "RUNPATH ${so#"$pkg"/}: $runpath"
    [[ -n $runpath ]] || fail "$so has no RUNPATH"
    local entry
    IFS=: read -ra entries <<<"$runpath"
    for entry in "${entries[@]}"; do
      [[ $entry == '$ORIGIN'* ]] || fail "$so: RUNPATH entry not \$ORIGIN-relative: $entry"
    done
    if [[ $so == */_C* ]]; then
      LD_LIBRARY_PATH=$torch_lib ldd "$so" >"$WORK/ldd.txt"
    else
      env -u LD_LIBRARY_PATH ldd "$so" >"$WORK/ldd.txt"
    fi
    if grep 'not found' "$WORK/ldd.txt"; then
      fail "$so: unresolved dependencies (above)"
    fi
    grep -E 'lib(torch_optspec|c10|torch_cpu)\.so' "$WORK/ldd.txt" | sort -u | sed 's/ (0x.*//; s/^\s*/  /'
  done

  # A C++ consumer through find_package(torch_optspec) from the pip install.
  local prefix build
  prefix=$("$PY" -c 'import torch_optspec, torch; print(torch_optspec.cmake_prefix_path + ";" + torch.utils.cmake_prefix_path)')
  build=$WORK/consumer-$label
  rm -rf "$build"
  cmake -S "$ROOT/tests/cpp/consumer" -B "$build" -G Ninja \
        -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" >"$build.log" 2>&1 \
    || { cat "$build.log"; fail "consumer: configure"; }
  grep -q 'torch_optspec_DIR:PATH='"$pkg"'/lib/cmake/torch_optspec' "$build/CMakeCache.txt" \
    || fail "consumer did not find the installed package: $(grep torch_optspec_DIR "$build/CMakeCache.txt")"
  cmake --build "$build" -j "$MAX_JOBS" >>"$build.log" 2>&1 || { tail -40 "$build.log"; fail "consumer: build"; }
  "$build/consumer" disabled
  TORCH_OPTSPEC_ENABLE=1 "$build/consumer" enabled
  echo "$label: ok"
}

step "3. wheel from the sdist (pip wheel --no-build-isolation), compiles the library"
WHEELHOUSE=$WORK/wheelhouse
rm -rf "$WHEELHOUSE"
# --no-cache-dir: pip would cache the wheel and reuse it for step 4.
pip_quiet wheel --no-cache-dir --no-build-isolation --no-deps "$SDIST" -w "$WHEELHOUSE" >"$WORK/wheel.log" \
  || { tail -40 "$WORK/wheel.log"; fail "pip wheel"; }
WHEEL=$(ls "$WHEELHOUSE"/torch_optspec-*.whl)
echo "$WHEEL"
case $(basename "$WHEEL") in
  torch_optspec-*+pt[0-9][0-9]*-cp*-linux_x86_64.whl) ;;
  *) fail "wheel name has no torch tag: $WHEEL" ;;
esac
"$PY" - "$WHEEL" <<'EOF'
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
names = z.namelist()
for f in ["torch_optspec/lib/libtorch_optspec.so",
          "torch_optspec/include/torch_optspec/torch_optspec.h",
          "torch_optspec/lib/cmake/torch_optspec/torch_optspecConfig.cmake"]:
    assert f in names, f"wheel lacks {f}"
assert any(n.startswith("torch_optspec/_C") and n.endswith(".so") for n in names), names
meta = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
requires = [l for l in meta.splitlines() if l.startswith("Requires-Dist:")]
print("wheel:", len(names), "files;", *requires)
import torch
major, minor = (int(p) for p in torch.__version__.split(".")[:2])
assert requires == [f"Requires-Dist: torch<{major}.{minor + 1},>={major}.{minor}"], requires
EOF
pip_quiet install --quiet "$WHEEL"
check_installed wheel

if [[ $CHECK_SDIST_INSTALL == 1 ]]; then
  step "4. pip install --no-build-isolation <sdist>, compiles the library again"
  pip_quiet uninstall --yes --quiet torch_optspec
  pip_quiet install --quiet --no-cache-dir --no-build-isolation "$SDIST" >"$WORK/sdist-install.log" \
    || { tail -40 "$WORK/sdist-install.log"; fail "pip install <sdist>"; }
  check_installed sdist
fi

[[ $KEEP == 1 ]] || rm -rf "$WORK"
printf '\ncheck_wheel: all checks passed\n'
