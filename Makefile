# Facial emotion pipeline. `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# Stages run `python -m stages.<name>`: the venv must come first on PATH for dvc and its children.
export PATH := $(BIN):$(PATH)

.PHONY: wheel help repro recipe test test-all test-isa lint setup setup-dev browser postgres team-up team-down mlflow-ui mlflow-server exp-show demo serve benchmarks

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(VENV)/.runtime: requirements.txt requirements-inference.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .  # the package itself: the facial-emotion command
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(VENV)/.runtime ## create .venv, install the pipeline's packages (the [pipeline] extra, pinned) and the package

setup-dev: $(VENV)/.dev ## also install the test tools

browser: ## install Debian's Chromium for the page tests (needs root and apt; skipped otherwise)
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	  echo "chromium not installed: browser tests will be skipped"; }

postgres: ## install Debian's PostgreSQL server for the team tests (needs root and apt; skipped otherwise)
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) || \
	  echo "postgresql not installed: team tests will be skipped"; }

repro: setup ## set up, then run the whole pipeline (dvc repro) on data/raw/ or synthetic data
	dvc repro

recipe: setup ## run a recipe as one DVC experiment: make recipe RECIPE=cpu [ARGS='-S seed=43'] (recipes/*.yaml)
	@test -n "$(RECIPE)" || { echo "error: name a recipe: make recipe RECIPE=cpu (recipes: $$(ls recipes | sed -n 's/\.yaml$$//p' | paste -sd' '))"; exit 1; }
	python -m facial_emotion.recipes $(RECIPE) $(ARGS)

test: setup-dev ## the fast tier (under 5 min on 2 cores): every test not marked slow; run it while you work
	$(BIN)/python -m pytest -m "not slow"

test-all: setup-dev browser postgres ## every test: unit, data, the slow training and end-to-end ones (what CI runs)
	$(BIN)/python -m pytest --durations=25

# The tests that train or compare TensorFlow's floats. oneDNN picks its kernels by CPU (AVX-512 here,
# AVX2 on many machines), so their figures differ from CPU to CPU: these must assert what holds on any.
ISA_TESTS := tests/unit/test_training_options.py tests/unit/test_resume.py tests/unit/test_stopping.py \
  tests/unit/test_architectures.py tests/unit/test_fused_batchnorm.py tests/unit/test_shipped_model.py \
  tests/integration/test_training.py

ISA_ARGS ?=

test-isa: setup-dev ## the training tests with oneDNN limited to AVX2, then with oneDNN off: CPU-dependent results show here
	ONEDNN_MAX_CPU_ISA=AVX2 $(BIN)/python -m pytest $(ISA_ARGS) $(ISA_TESTS)
	TF_ENABLE_ONEDNN_OPTS=0 $(BIN)/python -m pytest $(ISA_ARGS) $(ISA_TESTS)

lint: setup-dev ## ruff (settings in pyproject.toml)
	$(BIN)/ruff check .

dvc-deps: setup-dev ## rewrite each stage's facial_emotion/ deps in dvc.yaml from what it imports (tests/support/dvc_deps.py)
	$(BIN)/python -m tests.support.dvc_deps --write

mlflow-ui: setup ## browse runs at http://127.0.0.1:5000 (local SQLite store)
	mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db --host 127.0.0.1 --port 5000

mlflow-server: setup ## shared tracking server on 127.0.0.1:5000 for parallel sweeps (export MLFLOW_TRACKING_URI=http://127.0.0.1:5000)
	mlflow server --backend-store-uri sqlite:///$(CURDIR)/mlflow-server.db --artifacts-destination $(CURDIR)/mlartifacts \
	  --host 127.0.0.1 --port 5000 --workers 1

team-up: setup-dev ## team stack on loopback: PostgreSQL, an S3 API (moto) and mlflow server over both; settings in .team/team.env (docs/teams.md)
	python scripts/team.py up

team-down: ## stop the team stack; no process is left
	python scripts/team.py down

exp-show: setup ## compare experiments: headline metrics and changed params only
	dvc exp show --only-changed --drop '.*(precision|recall|f1)_.*' --drop '.*\.rows$$' --sort-by reports/champion.json:validation.macro_f1

demo: setup ## the registered champion on webcam 0 (q quits); outputs in reports/demo-live/
	python -m facial_emotion.faces.demo --source 0

serve: setup ## web service for the champion: upload page and JSON API at http://127.0.0.1:8000 (docs at /docs)
	python -m facial_emotion.serve

wheel: setup ## build dist/facial_emotion-*.whl: pip install it anywhere for the API and the facial-emotion command (no TensorFlow)
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir dist .

benchmarks: setup ## print the speed, memory and peer figures (needs FER2013 at ../shared or FER2013_PATH)
	for b in benchmarks/*.py; do grep -q '^if __name__ == "__main__":' $$b || continue; python $$b || exit 1; done
