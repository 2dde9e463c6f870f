# The two commands a newcomer needs: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STORE  := data/store.sqlite
HOST   ?= 127.0.0.1
PORT   ?= 8000
export FLASK_APP := wsgi

.PHONY: run test lint store bench bench-pages bench-loader fuzz faults load mutation docs docs-build docs-examples docs-figures clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

# The store is rebuilt when any archive file or the vocabulary is newer than it.
$(STORE): $(VENV)/.installed $(shell find data/archive -type f 2>/dev/null) data/vocabulary.yaml
	$(VENV)/bin/flask archive load data/archive

store: $(STORE)

run: $(VENV)/.installed $(STORE)
	$(VENV)/bin/gunicorn -c deploy/gunicorn.conf.py --bind $(HOST):$(PORT) wsgi:app

# Tools by others that the tests run (linters, client generators, Lighthouse; see tests/test_clients.py,
# tests/test_lighthouse.py), pinned by package-lock.json. Install scripts are not run: none of these tools needs
# one (only an analytics ping has one).
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null) || echo "npm not installed: tool tests will skip"; }
	@if command -v npm >/dev/null 2>&1; then npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && touch $@; fi

test: $(VENV)/.installed-dev node_modules/.installed
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: browser tests will skip"; }
	@command -v prometheus >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq prometheus >/dev/null) || echo "prometheus not installed: the Prometheus tests will skip"; }
	@command -v nginx >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq nginx-light >/dev/null) || echo "nginx not installed: the nginx tests will skip"; }
	@command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq wrk >/dev/null) || echo "wrk not installed: the swap script's test will skip"; }
	$(PY) -m pytest

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The bench at BENCH_SIZES articles (synthetic archives and their stores cached in .bench/); about 4 min at
# 1000 once cached. `make bench BENCH_SIZES=100000` for the large size, `BENCH_BACKENDS=sqlite,postgresql` for
# PostgreSQL + Redis (private servers) beside SQLite, `BENCH_ARGS=--swap` for a generation swap under load through
# nginx (see docs/performance.md).
BENCH_SIZES ?= 1000
BENCH_BACKENDS ?= sqlite
bench: $(VENV)/.installed-dev
	$(PY) -m bench.run --sizes $(BENCH_SIZES) --backends $(BENCH_BACKENDS) $(BENCH_ARGS)

# Lighthouse's performance score of / and /docs on the phone profile (median of 3 runs; about 2 min). A CPU-bound
# figure, so a bench: `make test` asserts the bytes, requests and layout shift behind it (tests/test_lighthouse.py).
bench-pages: $(VENV)/.installed-dev node_modules/.installed
	$(PY) -m bench.pages $(BENCH_PAGES_ARGS)

# Loader throughput and peak memory at 1 000 / 10 000 / 100 000 articles (archives cached in .bench/archives).
bench-loader: $(VENV)/.installed-dev
	$(PY) -m bench.loader $(BENCH_LOADER_ARGS)

# The contract fuzz of `make test`, ten times longer in-process, then the schemathesis CLI against a live gunicorn
# on 127.0.0.1 (all checks + ours; FUZZ_LIVE_ARGS are passed to bench/fuzz_live.py, e.g. --max-examples 50).
fuzz: $(VENV)/.installed-dev
	CONTRACT_EXAMPLES=$${CONTRACT_EXAMPLES:-1000} $(PY) -m pytest -p no:cacheprovider tests/test_contract.py $(FUZZ_ARGS)
	$(PY) -m bench.fuzz_live $(FUZZ_LIVE_ARGS)

# wrk on loopback, 60 s at 32 connections on a mixed URL list, warm then cold; worker memory growth. JSON in bench/results/.
load: $(VENV)/.installed-dev
	$(PY) -m bench.load $(LOAD_ARGS)

# Fault injection under load (also part of `make test`): gunicorn + private PostgreSQL/Redis on loopback, 2-5 min.
faults: $(VENV)/.installed-dev
	$(PY) -m pytest -p no:cacheprovider -m faults tests/test_faults.py tests/test_instances.py $(FAULTS_ARGS)

# Mutation testing (mutmut) of the rule modules against their fast tests, then docs/mutation.md from the results,
# failing unless every group reaches 85 % with nothing left not checked. Not part of `make test`: from scratch about
# two hours on two idle cores (visibility, whose tests load generated archives, takes most of it; docs/mutation.md has
# the measured rates); a run resumes from the kept results. `make mutation MUTATION_GROUPS="languages http"` runs
# some groups (the others keep their last results); after a fix, `python -m tools.mutation rerun GROUP` reruns only
# that group's survivors and unfinished mutants.
MUTATION_GROUPS ?=
mutation: $(VENV)/.installed-dev
	$(PY) -m tools.mutation run $(MUTATION_GROUPS)
	$(PY) -m tools.mutation report --fail-under 85

# The documentation site (docs/, mkdocs.yml): served with live reload, or built strictly (warnings are errors).
# NO_MKDOCS_2_WARNING silences the theme's end-of-life banner, which is not a build warning.
docs: $(VENV)/.installed-dev
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve -a 127.0.0.1:8001

docs-build: $(VENV)/.installed-dev
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# Rewrite the API guide's example responses from the sample archive (tests/test_api_examples.py checks them).
docs-examples: $(VENV)/.installed-dev
	$(PY) -m tools.api_examples

# Render docs/performance.md and docs/reliability.md from docs/results/; FIGURES_ARGS=--collect first copies the
# newest bench/results/, .bench/loader.json and test-artifacts/ files there (tests/test_doc_figures.py checks).
docs-figures: $(VENV)/.installed-dev
	$(PY) -m tools.doc_figures $(FIGURES_ARGS)

clean:
	rm -rf $(VENV) $(STORE) data/store.sqlite.* .pytest_cache site node_modules .mutation
