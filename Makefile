# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv first.
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: setup demo test lint fuzz sanitize bench bench-isa package.json natmods kernels clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

demo: setup
	$(PY) examples/hello_world/demo.py

test: setup
	$(PY) -m pytest -q

# ruff (rules in pyproject.toml; format: `ruff format .`) and mypy on host_tools; make test runs both too (tests/test_lint.py).
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Thousands of mutated TFLite and ONNX models through bake, the CPython tiers and the oracle
# (TFLM, onnxruntime; tests/fuzz.py); FUZZ_COUNT mutants per format, FUZZ_SEED fixed for a replay
# (default: a fresh seed, printed); accepted models also run under the MicroPython unix port,
# natmod, viper and pure (FUZZ_MICROPYTHON=0: not).
FUZZ_COUNT ?= 3000
FUZZ_MICROPYTHON ?= 1
fuzz: setup
	FUZZ_COUNT=$(FUZZ_COUNT) FUZZ_SEED=$(FUZZ_SEED) FUZZ_MICROPYTHON=$(filter-out 0,$(FUZZ_MICROPYTHON)) \
	$(PY) tests/fuzz.py --save out/fuzz

# The native tier's tests against an ASan+UBSan build of the C extension (tests/sanitize.py);
# make test runs a subset (tests/test_sanitize.py).
sanitize: setup
	nice $(PY) tests/sanitize.py

bench: setup
	$(PY) benchmarks/bench.py

# Instructions and estimated cycles per invoke with the C kernels as Cortex-M0+,
# Cortex-M4F and RV32IMC code (needs the cross compilers; see .ci/run).
bench-isa: setup
	$(PY) benchmarks/bench_isa.py

package.json: setup
	$(PY) -c "from upyflow_tools.deploy import write_mip_packages; write_mip_packages('.')"

# upyflow_native.mpy for every board arch, into the package (host_tools/upyflow_tools/natmods),
# from a MicroPython source tree with mpy-cross built: make natmods MPY_DIR=/path/to/micropython
natmods: setup
	@test -n "$(MPY_DIR)" || { echo "usage: make natmods MPY_DIR=/path/to/micropython"; exit 2; }
	nice $(PY) native_modules/build_natmods.py --mpy-dir "$(MPY_DIR)"
	$(MAKE) package.json

# The positional host-to-kernel contract from host_tools/upyflow_tools/kernel_spec.py: the C
# kernel table (native_modules/src/table.c), the kernel count, dispatch maps, viper prologues.
kernels: setup
	cd host_tools && ../$(PY) -m upyflow_tools.gen_kernels

clean:
	rm -rf $(VENV) out
