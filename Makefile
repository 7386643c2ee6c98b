# torch_optspec: `make demo`, `make test` from a fresh clone.
# Everything lives in .venv/ at the repository root (created on first use,
# reused afterwards). The extension is built in place with Ninja
# (incremental) and the checkout is put on the venv's path.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
SITE    = $(shell $(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
EXT_SOURCES := $(shell find csrc -name '*.cpp' -o -name '*.h') setup.py

.PHONY: all venv build test test-py demo clean distclean build-cpp test-cpp cpp-tools

all: build

venv: $(VENV)/.deps

$(VENV)/.deps: requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

build: $(VENV)/.built

$(VENV)/.built: $(VENV)/.deps $(EXT_SOURCES)
	MAX_JOBS=$${MAX_JOBS:-2} $(PY) setup.py --quiet build_ext --inplace
	echo "$(CURDIR)" > "$(SITE)/torch_optspec-dev.pth"
	touch $@

# The C++ side is built first so that the Python suite can also check the
# library (tests/test_api.py loads it next to the extension).
test: build build-cpp
	$(PY) -m pytest -q tests
	$(MAKE) test-cpp

demo: build
	$(PY) examples/demo.py

# Differential fuzzing (tests/fuzz/, docs/reliability.md): N generated cases
# from SEED, run at low priority in chunks; run it again to resume.
N         ?= 10000
SEED      ?= 1
FUZZ_OUT  ?= build/fuzz-seed$(SEED)
.PHONY: fuzz
fuzz: build
	nice -n 10 $(PY) tests/fuzz/fuzz_run.py --cases $(N) --seed $(SEED) --out $(FUZZ_OUT)

# LibTorch side (docs/cpp.md): libtorch_optspec, examples/cpp and tests/cpp,
# built with CMake + Ninja in build-cpp/ against the venv's torch.
CMAKE     ?= cmake
CPP_BUILD := build-cpp

# cmake and ninja from Debian when missing (CI runs as root).
cpp-tools:
	@command -v $(CMAKE) >/dev/null && command -v ninja >/dev/null || \
	  { apt-get update && apt-get install -y cmake ninja-build; }

build-cpp: venv cpp-tools
	$(CMAKE) -S . -B $(CPP_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release \
	  -DCMAKE_PREFIX_PATH="$$($(PY) -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')" \
	  -DPython3_EXECUTABLE="$(abspath $(PY))"
	$(CMAKE) --build $(CPP_BUILD) -j $${MAX_JOBS:-2}

test-cpp: build-cpp
	cd $(CPP_BUILD) && ctest --output-on-failure

clean:
	rm -rf build $(CPP_BUILD) torch_optspec/_C*.so torch_optspec/_build_info.py $(VENV)/.built

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
