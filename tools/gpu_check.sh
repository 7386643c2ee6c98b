#!/usr/bin/env bash
# `make gpu-check`: the CUDA half of torch_optspec, on a machine with a GPU
# and a CUDA build of torch already installed. Uses the python on PATH (or
# $PYTHON) as it is: no venv, no downloads. Needs torch 2.11-2.15 (CUDA build),
# setuptools, cmake, ninja and pytest there.
#
#   1. builds the package in place against that torch (build/gpu-check/cmake)
#   2. pytest -m cuda (tests/test_cuda.py)
#   3. python -m bench.cuda: the report's module at the report's sizes (fp32,
#      fp16; mask given and None; with inputs requiring grad), the BERT port
#      b8 s128 (fp32, fp16): stock vs optspec vs the hand twin vs eager
#
# Everything goes to $GPU_CHECK_OUT (default build/gpu-check): build.log,
# pytest.txt, pytest.xml, cuda.json, cuda.md (docs/cuda.md is a copy of it),
# summary.txt. Without a GPU it stops at step 0 with one line, exit 2.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
command -v "$PY" >/dev/null || PY=python3
OUT=${GPU_CHECK_OUT:-build/gpu-check}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
say() { echo "gpu-check: $*" | tee -a "$SUMMARY"; }

# 0. a CUDA build of torch that sees a GPU, or one line saying what is missing
if ! "$PY" - 2>&1 <<'EOF' | tee -a "$SUMMARY"
import sys
try:
    import torch
except ImportError:
    print(f"gpu-check: no torch importable by {sys.executable}")
    sys.exit(1)
if not torch.version.cuda:
    print(f"gpu-check: torch {torch.__version__} is a CPU build; the check needs a CUDA build and a GPU")
    sys.exit(1)
if not torch.cuda.is_available():
    print(f"gpu-check: no GPU: torch {torch.__version__} (CUDA {torch.version.cuda}) sees no CUDA device; nothing to check")
    sys.exit(1)
print(f"gpu-check: {torch.cuda.get_device_name()}, torch {torch.__version__} (CUDA {torch.version.cuda}), "
      f"Python {sys.version.split()[0]}")
EOF
then
  exit 2
fi

t0=$(date +%s)
status=0

# 1. the build, in place (torch_optspec/_C*.so and torch_optspec/lib/)
jobs=${MAX_JOBS:-$(nproc)}
if MAX_JOBS=$jobs TORCH_OPTSPEC_CMAKE_BUILD_DIR=$OUT/cmake \
    "$PY" setup.py build_ext --inplace >"$OUT/build.log" 2>&1; then
  say "build: ok ($(( $(date +%s) - t0 )) s, $jobs jobs)"
else
  tail -30 "$OUT/build.log"
  say "build: FAILED (see $OUT/build.log)"
  exit 1
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}

# 2. the CUDA tests
t=$(date +%s)
"$PY" -m pytest -m cuda tests/test_cuda.py -q -rA -p no:cacheprovider \
  --junitxml="$OUT/pytest.xml" >"$OUT/pytest.txt" 2>&1
rc=$?
say "pytest -m cuda: $(tail -1 "$OUT/pytest.txt") ($(( $(date +%s) - t )) s)"
[[ $rc == 0 ]] || status=1

# 3. the CUDA benchmark
t=$(date +%s)
if "$PY" -m bench.cuda --out "$OUT" >"$OUT/bench.txt" 2>&1; then
  say "bench.cuda: ok ($(( $(date +%s) - t )) s): $OUT/cuda.md"
else
  tail -20 "$OUT/bench.txt"
  say "bench.cuda: FAILED (see $OUT/bench.txt)"
  status=1
fi
say "total $(( $(date +%s) - t0 )) s; results in $OUT"
exit $status
