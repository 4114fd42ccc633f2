# Two commands for a fresh machine (README.md): `make demo` and `make test`.
# Both create .venv when it is missing and install the package in development mode;
# a second run finds the stamps below and installs nothing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
OUT    ?= outputs/demo
FLAGS  ?=
ARGS   ?=

.PHONY: demo test docs readme export clean-nbs

$(VENV)/.torch:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	touch $@

$(VENV)/.installed: $(VENV)/.torch settings.ini setup.py
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/cpsample demo --out $(OUT) $(ARGS)

test: $(VENV)/.installed
	CPSAMPLE_TEST_FLAGS="$(FLAGS)" $(PY) -m pytest $(ARGS)

docs: $(VENV)/.installed
	$(PY) tools/build_docs.py

readme: $(VENV)/.installed
	$(PY) tools/build_readme.py

export: $(VENV)/.installed
	$(VENV)/bin/nbdev_export && $(VENV)/bin/nbdev_clean && $(PY) tools/build_readme.py
