# Causeway's two commands: `make run` and `make test`. Everything they need is installed by the
# project's own scripts; tools are cached by version under ~/.cache/causeway.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# One target directory outside the clone, so that fresh clones (and CI) reuse compiled
# dependencies. Override with CARGO_TARGET_DIR=target for a self-contained build.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/causeway/target
export CAUSEWAY_TOOLS ?= $(HOME)/.cache/causeway/tools
SITE_ROOT := $(CURDIR)/target/site
export SITE_ROOT
WASM_PROFILE ?= release
CAUSEWAY := $(CARGO_TARGET_DIR)/debug/causeway

.PHONY: help run test setup site server lint unit e2e fmt clean

help:
	@echo "make run   build and serve the portal with demo data on http://127.0.0.1:3000"
	@echo "make test  every test suite (format, lints, unit, store on SQLite and PostgreSQL, browser)"

## Installs system packages and npm dependencies the suites and the portal need.
setup:
	@tests/scripts/setup.sh

## The browser bundle (WASM + JS + CSS) in target/site/pkg.
site:
	@frontend/build.sh $(WASM_PROFILE)

## The causeway binary.
server:
	cargo build -p causeway

run: setup site server
	mkdir -p var
	$(CAUSEWAY) migrate
	$(CAUSEWAY) seed
	CAUSEWAY_SITE_ROOT=$(SITE_ROOT) $(CAUSEWAY) serve

fmt:
	cargo fmt --all

lint:
	cargo fmt --all --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy -p causeway-frontend --target wasm32-unknown-unknown -- -D warnings

## Unit tests and the store suite on SQLite and on a private PostgreSQL, started and stopped here.
unit:
	@tests/scripts/with-postgres.sh cargo test

## The browser suite against a freshly built portal, and readiness following a real PostgreSQL.
e2e: site server
	@tests/scripts/e2e.sh $(CAUSEWAY)
	@tests/scripts/readiness-recovery.sh $(CAUSEWAY)

test: setup lint unit e2e
	@echo "All suites passed."

clean:
	rm -rf target var
