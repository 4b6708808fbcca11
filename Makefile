# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv first.
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: setup demo test bench clean

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

bench: setup
	$(PY) benchmarks/bench.py

clean:
	rm -rf $(VENV) out
