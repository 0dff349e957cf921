# The two commands of the README's quick start, plus the longer targets.
#   make report      train and evaluate Pinto & Silva's MLNN on BloodMNIST; writes results/pinto_silva/
#   make test        the test suite (what CI runs)
# Both create the virtual environment .venv and install what they need on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: report test test-slow benchmark clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

report: $(VENV)/.installed
	$(PY) examples/pinto_silva.py --out results/pinto_silva

test: $(VENV)/.installed
	$(PY) -m pytest -m "not slow" -n 2 -q

test-slow: $(VENV)/.installed
	$(PY) -m pytest -m slow -q

benchmark: $(VENV)/.installed
	$(PY) benchmarks/compare_torch.py --model mlnn --epochs 10

clean:
	rm -rf $(VENV) results .pytest_cache .hypothesis
