# Two commands do all the set-up on a fresh Debian machine with Python 3.11:
#   make demo   set up, then run the whole pipeline on configs/demo.yaml
#   make test   set up, then lint and the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.donkit-setup
DEMO_OUT ?= out/demo

.PHONY: setup system-deps demo test lint format clean

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

# Open3D needs libusb-1.0 at import time.
system-deps:
	@if ldconfig -p | grep -q 'libusb-1.0.so.0'; then \
		echo "system packages: libusb-1.0 present"; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libusb-1.0-0; \
	else \
		echo "error: Open3D needs the system library libusb-1.0; run 'sudo apt-get install libusb-1.0-0' and retry" >&2; \
		exit 1; \
	fi

demo: setup
	$(BIN)/donkit demo --out $(DEMO_OUT)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: setup lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) out build *.egg-info
