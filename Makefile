# The two commands of the README: `make run` and `make test`. Each installs what is missing
# (Debian packages, the virtualenv, the package) first.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
DEMO_HOME ?= $(CURDIR)/.demo

.PHONY: run test system-deps venv lint typecheck unit bench demo-stop clean screenshots deb

system-deps:
	@scripts/install-system-deps.sh

$(VENV)/.installed: pyproject.toml | system-deps
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

venv: system-deps $(VENV)/.installed

run: venv
	$(PY) -m workstation.devtools.demo start --gui --home "$(DEMO_HOME)"

demo-stop: venv
	$(PY) -m workstation.devtools.demo stop --home "$(DEMO_HOME)"

lint: venv
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: venv
	$(VENV)/bin/mypy

test: venv
	$(VENV)/bin/ruff check src tests bench scripts installer
	$(VENV)/bin/mypy
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/pytest

bench: venv
	$(PY) bench/bench_keygen.py
	$(PY) bench/bench_audit_verify.py
	$(PY) bench/bench_mailers.py
	$(PY) bench/bench_tr31.py
	$(PY) bench/bench_dukpt.py
	$(PY) bench/bench_dukpt_job.py
	$(PY) bench/bench_distribution.py
	QT_QPA_PLATFORM=offscreen $(PY) bench/bench_repository_1m.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache dist

# The Debian package: dist/key-custodian-workstation_<version>_<arch>.deb (installer/README.md).
deb: system-deps
	installer/build-deb.sh --out dist

screenshots: venv
	xvfb-run -a -s "-screen 0 1400x900x24" $(PY) scripts/screenshots.py --out docs/screenshots
	xvfb-run -a -s "-screen 0 1400x900x24" $(PY) scripts/screenshot_kiosk.py --out docs/screenshots
