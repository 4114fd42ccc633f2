# Two commands for a fresh machine (README.md): `make demo` and `make test`.
# Both create .venv when it is missing and install the package in development mode;
# a second run finds the stamps below and installs nothing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
OUT    ?= outputs/demo
DATA   ?= fashion
FLAGS  ?=
ARGS   ?=
NB     ?=
CHROMIUM := /usr/bin/chromium

.PHONY: demo test docs readme export outputs clean-nbs

# Fashion-MNIST from Debian's dataset-fashion-mnist (offline, seconds). Elsewhere see nbs/00_data.ipynb:
# torchvision.datasets.FashionMNIST(ROOT, download=True) and CPSAMPLE_FASHION_MNIST=ROOT.
FASHION := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
$(FASHION):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q dataset-fashion-mnist >/dev/null; }; \
	else echo "Fashion-MNIST is missing and apt-get cannot install it here (not root on Debian): get it with"; \
	  echo "torchvision.datasets.FashionMNIST(ROOT, download=True) and set CPSAMPLE_FASHION_MNIST=ROOT"; fi

$(VENV)/.torch:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	touch $@

# uv installs the other requirements in seconds where pip takes minutes (torch, above, comes from pip's local wheels
# and satisfies uv's torch requirement); pip is the fallback when uv cannot be installed or fails.
$(VENV)/.installed: $(VENV)/.torch settings.ini setup.py
	{ $(PY) -m pip install -q uv && $(VENV)/bin/uv pip install -q --python $(PY) -e ".[dev]"; } || $(PY) -m pip install -q -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

demo: $(VENV)/.installed | $(FASHION)
	$(VENV)/bin/cpsample demo --data $(DATA) --out $(OUT) $(ARGS)

test: $(VENV)/.installed | $(FASHION) $(CHROMIUM)
	CPSAMPLE_TEST_FLAGS="$(FLAGS)" $(PY) -m pytest $(ARGS)

# Headless Chromium for tests/test_docs.py (it checks that the site's formulas are typeset, offline): Debian's
# package, installed when running as root; elsewhere that one test is skipped and says how to install it.
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null; }; \
	else echo "chromium is missing and apt-get cannot install it here (not root on Debian): install it with"; \
	  echo "apt-get install -y chromium, or the docs test that checks typeset formulas is skipped"; fi

# The site renders the outputs the notebooks keep (`make outputs`) and executes nothing; tools/build_docs.py --execute
# runs every notebook again (minutes). The site carries its own MathJax (PyPI sphinx-mathjax-offline, pinned in settings.ini): no CDN, formulas render offline.
docs: $(VENV)/.installed
	$(PY) tools/build_docs.py

readme: $(VENV)/.installed
	$(PY) tools/build_readme.py

export: $(VENV)/.installed
	$(VENV)/bin/nbdev_export && $(VENV)/bin/nbdev_clean && $(PY) tools/build_readme.py

# Run the notebooks (all, or NB="nbs/a.ipynb nbs/b.ipynb") as the tests run them and keep their outputs in them:
# the docs site and the repository page show these. FLAGS="slow" also runs (and keeps) the flagged cells.
outputs: export | $(FASHION)
	$(PY) tools/execute_nbs.py $(NB) $(if $(strip $(FLAGS)),--flags $(FLAGS))
