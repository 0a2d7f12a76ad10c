# Causeway's two commands: `make run` and `make test`. Everything they need is installed by the
# project's own scripts; tools are cached by version under ~/.cache/causeway.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# One target directory outside the clone, so that fresh clones (and CI) reuse compiled
# dependencies. Override with CARGO_TARGET_DIR=target for a self-contained build.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/causeway/target
export TOOLS_CACHE ?= $(HOME)/.cache/causeway/tools
SITE_ROOT := $(CURDIR)/target/site
export SITE_ROOT
WASM_PROFILE ?= release
CAUSEWAY := $(CARGO_TARGET_DIR)/debug/causeway

.PHONY: help run test setup site server release lint unit chart e2e fmt clean dev-cluster dev-cluster-down dev-gitea dev-gitea-down bench-catalog bench-templates bench-upgrades bench-delivery bench-provision bench-policies fuzz fuzz-api

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

## The release binary and the browser bundle: what the container image (Containerfile) is built
## with.
release: site
	cargo build --release -p causeway

run: setup site server
	mkdir -p var
	$(CAUSEWAY) migrate
	$(CAUSEWAY) seed
	$(CAUSEWAY) catalog import server/causeway/demo/organisation
	$(CAUSEWAY) catalog import server/causeway/demo/templates/*/template.yaml
	@# Ninety days of deployments, commits and incidents for three demo components, so that the
	@# Delivery views and the scorecards' DORA checks have a history; a second run records nothing.
	$(CAUSEWAY) demo delivery
	@# Environments go to the development cluster when `make dev-cluster` has started one, else
	@# to the local GitOps directory (see README, Provisioning), also in a development environment
	@# that runs in a Kubernetes pod: the pod's own cluster, which `causeway serve` would find
	@# through KUBERNETES_SERVICE_HOST, is for deployed releases, never for a developer's run.
	KUBERNETES_SERVICE_HOST= CAUSEWAY_SITE_ROOT=$(SITE_ROOT) $(if $(wildcard var/dev-cluster/kubeconfig),CAUSEWAY_KUBECONFIG=$(CURDIR)/var/dev-cluster/kubeconfig) $(CAUSEWAY) serve

fmt:
	cargo fmt --all

lint:
	cargo fmt --all --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy -p causeway-frontend --target wasm32-unknown-unknown -- -D warnings

## Unit tests, the store suite on SQLite and on a private PostgreSQL, and the platform's suite
## against a private Kubernetes control plane; both servers are started and stopped here. Dex
## (tests/oidc) wraps the control plane, so that its API server trusts Dex's ID tokens.
unit:
	@tests/scripts/with-postgres.sh tests/scripts/with-dex.sh tests/scripts/with-controlplane.sh tests/scripts/with-gitea.sh cargo test

## The Helm chart (tests/helm/): helm lint, helm template with charts/causeway/examples/values.yaml
## and the renders the chart must refuse, the rendered manifests dry-run on the control plane in a
## namespace enforcing Pod Security "restricted", the Containerfile against `make release`; then the
## binary run as the chart's Deployment runs it (read-only root, the chart's environment and
## volumes, PostgreSQL, Dex, the in-cluster configuration with the release's ServiceAccount).
## Helm is built from Go modules on first use (about 2 minutes).
chart: site server
	@tests/scripts/with-controlplane.sh tests/helm/chart.sh
	@tests/scripts/with-postgres.sh tests/scripts/with-dex.sh tests/scripts/with-controlplane.sh tests/helm/process.sh $(CAUSEWAY)

## The browser suite against a freshly built portal, readiness following a real PostgreSQL, and
## three replicas behind HAProxy restarted one at a time under load (the short run; the full
## ten-minute run is `tests/load/replicas.sh`).
## Last, the REST API is fuzzed from its OpenAPI document (schemathesis, 100 examples per
## operation; `make fuzz-api` runs 1000).
e2e: site server
	@tests/scripts/with-dex.sh tests/scripts/with-controlplane.sh tests/scripts/e2e.sh $(CAUSEWAY)
	@tests/scripts/readiness-recovery.sh $(CAUSEWAY)
	@tests/load/replicas.sh --short $(CAUSEWAY)
	@tests/api/schemathesis.sh $(CAUSEWAY)

test: setup lint unit chart e2e
	@echo "All suites passed."

## A Kubernetes control plane for local use (tests/controlplane), until `make dev-cluster-down`.
dev-cluster:
	@tests/controlplane/controlplane.sh up var/dev-cluster >/dev/null
	@echo "Kubeconfig: var/dev-cluster/kubeconfig (contexts admin, causeway, developer-a, developer-b)"
	@echo "  export KUBECONFIG=$(CURDIR)/var/dev-cluster/kubeconfig"
	@echo "  kubectl --context causeway get namespaces"
	@echo "  kubectl is in $$(tests/controlplane/build.sh) if none is installed."
	@echo "Tests against it: TEST_KUBECONFIG=$(CURDIR)/var/dev-cluster/kubeconfig cargo test -p causeway-platform --test controlplane"

dev-cluster-down:
	@tests/controlplane/controlplane.sh down var/dev-cluster

## A Gitea for local use (tests/gitserver: REST API and git over HTTP, organisation `golden`), until
## `make dev-gitea-down`. The first run builds Gitea from Go modules (about 4 minutes).
dev-gitea:
	@tests/gitserver/gitea.sh up var/dev-gitea >/dev/null
	@echo "Env file: var/dev-gitea/gitea.env (GITEA_URL, GITEA_TOKEN, GITEA_ADMIN_USER, GITEA_ADMIN_PASSWORD, ...)"
	@echo "  eval \"\$$(tests/gitserver/gitea.sh env var/dev-gitea)\""
	@echo "  curl -H \"Authorization: token \$$GITEA_TOKEN\" \$$GITEA_URL/api/v1/orgs/golden/repos"
	@echo "Smoke test against it: (eval \"\$$(tests/gitserver/gitea.sh env var/dev-gitea)\"; tests/gitserver/smoke.sh)"

dev-gitea-down:
	@tests/gitserver/gitea.sh down var/dev-gitea

## The catalog benchmark (tests/bench/catalog): Causeway on SQLite and PostgreSQL beside Backstage's
## catalog backend, same data and requests; SIZES="1000 10000" selects catalog sizes. Release build,
## because debug timings say nothing about the product.
bench-provision:
	tests/bench/provision/run.sh

## The policy benchmark (server/platform/benches/policies.rs): 50 policies evaluated for one
## request, and 1,000 policies read and compiled; release build, no services needed.
bench-policies:
	cargo bench -p causeway-platform --bench policies

## The parsers' fuzz run (server/platform/tests/fuzz.rs) at a million generated inputs per target,
## on a release build, with a new seed each run; `make test` runs the same targets at 20 000
## inputs with a fixed seed. FUZZ_SEED replays a run.
fuzz:
	FUZZ_INPUTS=$${FUZZ_INPUTS:-1000000} FUZZ_SEED=$${FUZZ_SEED:-$$(date +%s%N)} cargo test --release -p causeway-platform --test fuzz -- --nocapture

## The REST API's fuzz run (tests/api/schemathesis.sh) at 1000 examples per operation instead of
## the 100 of `make test`, with a new seed each run (make test's is fixed); SCHEMATHESIS_EXAMPLES
## and SCHEMATHESIS_SEED set its size and seed.
fuzz-api: server
	SCHEMATHESIS_EXAMPLES=$${SCHEMATHESIS_EXAMPLES:-1000} SCHEMATHESIS_SEED=$${SCHEMATHESIS_SEED:-random} tests/api/schemathesis.sh $(CAUSEWAY)

bench-catalog:
	cargo build --release -p causeway -p causeway-bench-probe
	CAUSEWAY_BIN=$(CARGO_TARGET_DIR)/release/causeway tests/bench/catalog/run.sh

## The templates benchmark (tests/bench/templates): the same generated 200-file template dry-run by
## Causeway and by Backstage's scaffolder backend, and Causeway's demo `service` template run end to
## end; release build. DRY_RUNS, RUNS, FILES and BACKSTAGE=0: see tests/bench/templates/run.sh.
bench-templates:
	cargo build --release -p causeway
	CAUSEWAY_BIN=$(CARGO_TARGET_DIR)/release/causeway tests/bench/templates/run.sh

## The upgrades benchmark (tests/bench/upgrades): SERVICES (200) services created from one template,
## some edited by their teams, upgraded to the template's next version as one task, at the default
## pace and at none, with the server's time and memory; COMPARE="50" runs a smaller fleet too, to
## show whether memory grows with the fleet. PACES, PROFILE, ENGINE=postgres: see its run.sh.
## Release build, no cluster (the template has no environments).
bench-upgrades:
	cargo build --release -p causeway
	CAUSEWAY_BIN=$(CARGO_TARGET_DIR)/release/causeway tests/bench/upgrades/run.sh

## The delivery benchmark (tests/bench/delivery): a million delivery events of 500 services over
## 100 days posted to POST /api/events in batches of 1,000 (events/s, the server's peak RSS), then
## DORA's measures of the organisation, each team and each service read back (p50/p99) and checked
## against what the generator sent. ENGINES ("sqlite postgres"), EVENTS, SENDERS: see its run.sh.
## Release build.
bench-delivery:
	cargo build --release -p causeway
	CAUSEWAY_BIN=$(CARGO_TARGET_DIR)/release/causeway tests/bench/delivery/run.sh

clean:
	rm -rf target var
