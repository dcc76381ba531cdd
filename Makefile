# The two commands: `make run` (install what is missing, build, serve) and `make test`.
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)
# Features are given per package so that the ssr and hydrate builds never mix.
RUST_PKGS := -p app -p server --features app/ssr

.PHONY: run build test bench lint unit e2e setup setup-test

run: build
	@echo "Sign in at http://127.0.0.1:8080/login. On the first start the admin account is created:"
	@echo "its password is printed once below (or set CERTIFYCLOUDS_ADMIN_PASSWORD before the first start)."
	./target/release/certifyclouds serve

build: setup
	scripts/build-site.sh release

test: setup-test lint unit e2e

setup:
	scripts/setup.sh build

setup-test:
	scripts/setup.sh test

lint:
	cargo fmt --all -- --check
	cargo clippy $(RUST_PKGS) --all-targets -- -D warnings
	cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

# Under a private PostgreSQL server (scripts/with-postgres.sh): the store conformance
# suite runs on both engines, and the API tests run a second time on PostgreSQL.
unit:
	scripts/with-postgres.sh bash -c 'cargo test $(RUST_PKGS) && \
	  CERTIFYCLOUDS_TEST_ENGINE=postgres cargo test -p server --features app/ssr --test api'

e2e:
	scripts/build-site.sh debug
	cd end2end && npx playwright test

# The store benchmark on both engines (PostgreSQL on a private server with durable
# commits), then the browser's first load.
bench: build
	scripts/setup.sh bench
	cargo bench -p server --bench audit
	PG_DURABLE=1 scripts/with-postgres.sh env BENCH_ENGINE=postgres cargo bench -p server --bench audit
	BENCH_ENTRIES=10000000 BENCH_ONLY=store cargo bench -p server --bench audit
	PG_DURABLE=1 scripts/with-postgres.sh env BENCH_ENGINE=postgres BENCH_ENTRIES=10000000 BENCH_ONLY=store cargo bench -p server --bench audit
	scripts/bench-ui.sh
