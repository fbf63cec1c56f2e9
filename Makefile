# Two commands do all the set-up on a fresh Debian machine with Python 3.11:
#   make demo   set up, then run the whole pipeline on configs/demo.yaml
#   make test   set up, then lint and the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.donkit-setup
DEMO_OUT ?= out/demo

.PHONY: setup system-deps test-system-deps demo test test-fast lint format clean

setup: $(STAMP)

# Re-runs only when the dependencies change; every step is itself idempotent.
$(STAMP): pyproject.toml Makefile
	@$(MAKE) --no-print-directory system-deps
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	# The CPU build first: every later requirement on torch is then already satisfied.
	$(BIN)/python -m pip install torch==2.13.0
	$(BIN)/python -m pip install -e '.[test,cluster]'
	touch $(STAMP)

# Debian packages, installed when missing as root; otherwise the command to run is named and
# make stops. libusb-1.0-0: Open3D needs it at import time. chromium and chromium-driver: only
# the tests need them (they drive the descriptor viewer in headless Chromium).
RUNTIME_PACKAGES := libusb-1.0-0
TEST_PACKAGES := chromium chromium-driver
define ensure_packages
	@missing=""; \
	for package in $(1); do \
		dpkg -s "$$package" 2>/dev/null | grep -q '^Status: install ok installed' || missing="$$missing $$package"; \
	done; \
	if [ -z "$$missing" ]; then \
		echo "system packages: $(1) present"; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing system packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq$$missing; \
	else \
		echo "error: missing system packages:$$missing; run 'sudo apt-get install -y$$missing' and retry" >&2; \
		exit 1; \
	fi
endef

system-deps:
	$(call ensure_packages,$(RUNTIME_PACKAGES))

test-system-deps:
	$(call ensure_packages,$(TEST_PACKAGES))

demo: setup
	$(BIN)/donkit demo --out $(DEMO_OUT)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: setup test-system-deps lint
	$(BIN)/python -m pytest

# The quick loop while you work: no session data to simulate, fuse or train first, no slow
# end-to-end tests. `make test` (the README's and CI's command) still runs everything.
test-fast: setup test-system-deps lint
	$(BIN)/python -m pytest -m "not slow and not simulated"

clean:
	rm -rf $(VENV) out build *.egg-info
