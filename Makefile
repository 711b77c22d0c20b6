PYTHON ?= python3
PIP := $(PYTHON) -m pip

.PHONY: install test lint bench docs quickstart

install:  ## install nas-cli and its test tools (CPU torch, pinned by constraints.txt)
	$(PIP) install -c constraints.txt "torch==2.13.0"
	$(PIP) install -c constraints.txt -e ".[dev,ray,view,report,docs]"

test:  ## the whole test suite (< 10 min on 2 cores)
	$(PYTHON) -m pytest -q

lint:  ## ruff on the code, mypy on the package (its settings: setup.cfg [mypy])
	$(PYTHON) -m ruff check nas_cli tests bench search_spaces
	$(PYTHON) -m mypy

docs:  ## the documentation site (docs/) into site/, strict: broken links and references fail
	NO_MKDOCS_2_WARNING=1 $(PYTHON) -m mkdocs build --strict

bench:  ## benchmarks: ratios against baselines measured in the same run
	$(PYTHON) -m bench

quickstart:
	nas run specs/quickstart.yaml
