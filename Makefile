# The two commands of the README. Each installs what it needs first (idempotent).
PYTHON ?= python

.PHONY: install demo test bench

install:
	PYTHON=$(PYTHON) bash tools/install.sh

demo: install
	$(PYTHON) tools/run_demo.py

test: install
	$(PYTHON) -m pytest -q tests

bench: install
	$(PYTHON) tools/benchmark_stage1.py
