# The two commands of the README: `make up` runs the whole local system with its
# dashboard; `make test` runs the test suite. Both set the machine up first.
.PHONY: setup up test lint bench

setup:
	@bash scripts/setup.sh

up: setup
	.venv/bin/voting up

test: setup
	.venv/bin/pytest

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

bench: setup
	.venv/bin/voting bench
