# The two commands of the README's quick start, plus the longer targets.
#   make report      train and evaluate the U-Net encoder classifier on BloodMNIST; writes results/unet_encoder/
#                    (continues from its checkpoint when run again after an interruption)
#   make test        the static checks (ruff) and the test suite (what CI runs)
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
	$(PY) examples/unet_encoder.py --models unet_encoder --epochs 30 --resume --out results/unet_encoder

test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -m "not slow" -n 2 -q

test-slow: $(VENV)/.installed
	$(PY) -m pytest -m slow -q

benchmark: $(VENV)/.installed
	$(PY) benchmarks/compare_torch.py --model cnn
	$(PY) benchmarks/ops.py

clean:
	rm -rf $(VENV) results .pytest_cache .hypothesis
