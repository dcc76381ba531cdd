#!/usr/bin/env bash
# The Audit tab's speed at 1M entries, measured in headless Chromium (part of `make bench`,
# after `make build`): seeds a fresh database, serves it with the release binary and runs
# end2end/bench/, which writes docs/ui-benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${BENCH_UI_PORT:-8095}
events=${BENCH_EVENTS:-1000000}
data=target/bench-ui
rm -rf "$data"
mkdir -p "$data"
export CERTIFYCLOUDS_DATABASE_URL="sqlite:$data/audit.db"
bin=target/release/certifyclouds
"$bin" seed --events "$events" --days 90 --seed 2025
"$bin" serve --addr "127.0.0.1:$port" --site-root target/site &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 0.2
done
cd end2end
BENCH_UI_URL="http://127.0.0.1:$port" BENCH_EVENTS="$events" npx playwright test --config bench.config.ts
