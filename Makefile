# torch_optspec: `make demo`, `make test` from a fresh clone.
# Everything lives in .venv/ at the repository root (created on first use,
# reused afterwards; VENV=<dir> uses another): torch's CPU wheel (a local wheel
# directory in pip's find-links, else PyTorch's CPU index), cmake and ninja
# from PyPI (requirements-dev.txt). `make build` runs setup.py in place: CMake builds
# libtorch_optspec (and the C++ tests) in build-cpp/ and installs it into
# torch_optspec/, then the binding torch_optspec._C is linked against it; the
# checkout is put on the venv's path.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
SITE    = $(shell $(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
EXT_SOURCES := $(shell find csrc -name "*.cpp" -o -name "*.h") $(wildcard cmake/*) setup.py CMakeLists.txt version.txt
# The venv's cmake and ninja first.
export PATH := $(abspath $(VENV)/bin):$(PATH)

.PHONY: all venv build test test-py demo clean distclean build-cpp test-cpp test-matrix gpu-check

all: build

venv: $(VENV)/.deps

# The default torch (CI's): the CPU wheel of TORCH_VERSION, from pip's
# find-links when a local wheel directory has it (no index asked), else from
# PyTorch's CPU index (PyPI's wheel is the multi-GB CUDA build, which works
# too: TORCH_INDEX_URL= takes it). Its dependencies then come from PyPI.
# Other torch minors: `make test-matrix`.
TORCH_VERSION   ?= 2.13.0
TORCH_INDEX_URL ?= https://download.pytorch.org/whl/cpu

$(VENV)/.deps: requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --no-deps --no-index torch==$(TORCH_VERSION) 2>/dev/null \
	  || $(PY) -m pip install --quiet --no-deps torch==$(TORCH_VERSION) \
	     $(if $(TORCH_INDEX_URL),--extra-index-url $(TORCH_INDEX_URL))
	$(PY) -m pip install --quiet torch==$(TORCH_VERSION)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

build: $(VENV)/.built

$(VENV)/.built: $(VENV)/.deps $(EXT_SOURCES) $(shell find tests/cpp examples/cpp -name 'CMakeLists.txt' -o -name '*.cpp')
	MAX_JOBS=$${MAX_JOBS:-2} TORCH_OPTSPEC_CMAKE_BUILD_DIR=$(CURDIR)/$(CPP_BUILD) \
	  TORCH_OPTSPEC_CMAKE_ARGS="-DTORCH_OPTSPEC_BUILD_TESTS=ON -DTORCH_OPTSPEC_BUILD_EXAMPLES=ON" \
	  $(PY) setup.py --quiet build_ext --inplace
	echo "$(CURDIR)" > "$(SITE)/torch_optspec-dev.pth"
	touch $@

# One build serves both suites: the C++ tests are built with the library.
test: build
	$(PY) -m pytest -q tests
	$(MAKE) test-cpp

demo: build
	$(PY) examples/demo.py

# Differential fuzzing (tests/fuzz/, docs/reliability.md): N generated cases
# from SEED, run at low priority in chunks; run it again to resume.
N         ?= 10000
SEED      ?= 1
FUZZ_OUT  ?= build/fuzz-seed$(SEED)
.PHONY: fuzz fuzz-onednn
fuzz: build
	nice -n 10 $(PY) tests/fuzz/fuzz_run.py --cases $(N) --seed $(SEED) --out $(FUZZ_OUT)

# The oneDNN Graph mode (frozen modules, oneDNN Graph on; compared with eager,
# stock torch's own oneDNN failures counted apart): make fuzz-onednn N=2000
FUZZ_ONEDNN_OUT ?= build/fuzz-onednn-seed$(SEED)
fuzz-onednn: build
	nice -n 10 $(PY) tests/fuzz/fuzz_run.py --mode onednn --cases $(N) --seed $(SEED) --out $(FUZZ_ONEDNN_OUT)

# LibTorch side (docs/cpp.md): libtorch_optspec, examples/cpp and tests/cpp,
# built with CMake + Ninja in build-cpp/ against the venv's torch (by
# `make build`, which configures that tree with the tests on).
CPP_BUILD := build-cpp

build-cpp: build

test-cpp: build
	cd $(CPP_BUILD) && ctest --output-on-failure

clean:
	rm -rf build $(CPP_BUILD) torch_optspec/_C*.so torch_optspec/lib torch_optspec/include torch_optspec/_build_info.py $(VENV)/.built

distclean: clean
	rm -rf $(VENV)

# Benchmarks (bench/run.py; results in bench/results/latest.{md,json,png}).
.PHONY: bench bench-quick
$(VENV)/.bench-deps: requirements-bench.txt $(VENV)/.deps
	$(PY) -m pip install --quiet -r requirements-bench.txt
	touch $@

bench: build $(VENV)/.bench-deps
	$(PY) -m bench.run

bench-quick: build $(VENV)/.bench-deps
	$(PY) -m bench.run --quick

# The real-model benchmark (bench/real_models/, docs/benchmark.md; not part of
# `make test`): timm, open_clip, torchaudio and torch.nn models, random
# weights, in a venv of its own: build/bench-real/venv, with PyPI's
# torch==TORCH_VERSION (the CUDA build, ~4.5 GB with its nvidia-* packages;
# runs on the CPU without a GPU), because PyPI's torchvision/torchaudio
# wheels link CUDA libraries and do not load next to the +cpu wheel.
# `torch===V` (arbitrary equality) matches PyPI's "2.13.0" and not the local
# "2.13.0+cpu" wheel pip's find-links may hold (which `==` would prefer).
# The extension `make build` built in place serves both wheels of a minor;
# the checkout goes on the venv's path. Results: build/bench-real/results.{md,json}.
# BENCH_REAL_ARGS: e.g. --quick, --only clip_text, --no-compile.
REAL_VENV       := build/bench-real/venv
REAL_PY         := $(REAL_VENV)/bin/python
REAL_PYTHON     ?= python3.11
BENCH_REAL_ARGS ?=
.PHONY: bench-real bench-real-quick
$(REAL_VENV)/.deps: requirements-real.txt
	test -x $(REAL_PY) || $(REAL_PYTHON) -m venv $(REAL_VENV)
	$(REAL_PY) -m pip install --quiet --upgrade pip
	$(REAL_PY) -m pip install --quiet "torch===$(TORCH_VERSION)"
	$(REAL_PY) -m pip install --quiet -r requirements-real.txt
	$(REAL_PY) -c 'import torch, torchvision, torchaudio; v = torch.__version__; \
	  assert "+cpu" not in v, "bench-real needs PyPI torch, got " + v; print("bench-real venv: torch", v)'
	echo "$(CURDIR)" > "$$($(REAL_PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/torch_optspec-dev.pth"
	touch $@

bench-real: build $(REAL_VENV)/.deps
	nice -n 10 $(REAL_PY) -m bench.real_models $(BENCH_REAL_ARGS)

bench-real-quick: build $(REAL_VENV)/.deps
	nice -n 10 $(REAL_PY) -m bench.real_models --quick $(BENCH_REAL_ARGS)

# Every supported torch minor (tools/test_matrix.py): a venv per minor under
# build/matrix/, the build and the full suite (pytest + CTest) of a copy of
# this checkout, the table in build/matrix/results.md. Torch 2.11/2.12/2.14/
# 2.15 are PyPI's CUDA wheels (~4.5 GB each with their CUDA packages; they run
# without a GPU). MATRIX_ARGS: e.g. --only 2.15, --delete-venvs.
test-matrix:
	$(PYTHON) tools/test_matrix.py $(MATRIX_ARGS)

# On a GPU machine with a CUDA build of torch already installed (the python
# on PATH; no venv, no downloads): build in place, pytest -m cuda, the CUDA
# benchmark; everything in build/gpu-check/ (tools/gpu_check.sh).
gpu-check:
	bash tools/gpu_check.sh

# Packaging (tests/packaging/check_wheel.sh): in a fresh venv under /tmp, the
# sdist's contents, the isolated-build message, a wheel built from the sdist
# and an install from the sdist, each imported from outside the checkout and
# used by a C++ consumer through find_package. Compiles the library twice
# (several minutes each): not part of `make test`.
.PHONY: test-package
test-package:
	MAX_JOBS=$${MAX_JOBS:-2} PYTHON=$(PYTHON) TORCH_VERSION=$(TORCH_VERSION) \
	  TORCH_INDEX_URL=$(TORCH_INDEX_URL) bash tests/packaging/check_wheel.sh
