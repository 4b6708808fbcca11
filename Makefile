# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv first.
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: setup demo test fuzz bench package.json clean

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

# Thousands of mutated TFLite and ONNX models through bake and the CPython tiers (tests/fuzz.py);
# FUZZ_COUNT mutants per format, FUZZ_SEED fixed for a replay (default: a fresh seed, printed).
FUZZ_COUNT ?= 3000
fuzz: setup
	FUZZ_COUNT=$(FUZZ_COUNT) FUZZ_SEED=$(FUZZ_SEED) $(PY) tests/fuzz.py --save out/fuzz

bench: setup
	$(PY) benchmarks/bench.py

package.json: setup
	$(PY) -c "from upyflow_tools.deploy import write_package_json; write_package_json('package.json')"

clean:
	rm -rf $(VENV) out
