# The two commands a fresh machine needs: `make demo` and `make test`.
# Both create the virtual environment on first use (and refresh it when pyproject.toml changes).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test cms soak lint bench clean

$(VENV)/.installed: pyproject.toml setup.py peerkit/_cbor_floats.c peerkit/_envelope_calls.c
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/python -m sample_app.demo

test: $(VENV)/.installed
	$(BIN)/python -m pytest -q

# The CMS dapp for a person to try: your own peer serves the page on http://127.0.0.1:8765/cms/
cms: $(VENV)/.installed
	$(BIN)/python -m sample_app.cms

# The long run: every attack in tests/abuse/ at full size, decoder fuzzing with 20,000
# examples per property, and the growth tests (tests/growth/) at the sizes of years of use
# (minutes, not seconds; not part of `make test`).
soak: $(VENV)/.installed
	PEERKIT_SOAK=1 HYPOTHESIS_PROFILE=soak $(BIN)/python -m pytest -q -p no:cacheprovider \
		-o timeout=1800 tests/abuse tests/growth \
		tests/browser/test_cms.py  # 300 live edits in a real browser

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports  # the layering contracts in pyproject.toml
	$(BIN)/peerkit generate --check  # sample_app/ is exactly what its schemas generate

bench: $(VENV)/.installed
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
