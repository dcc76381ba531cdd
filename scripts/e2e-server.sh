#!/usr/bin/env bash
# Started by Playwright (end2end/playwright.config.ts): a fresh, seeded database and the
# debug server on its own port.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${E2E_PORT:-8089}
data=end2end/.data
rm -rf "$data"
mkdir -p "$data"
export CERTIFYCLOUDS_DATABASE_URL="sqlite:$data/e2e.db"
bin=target/debug/certifyclouds
"$bin" seed --events 120 --days 7 --seed 1 >/dev/null
# The people the tests sign in as (end2end/tests/support.ts names them): made before the
# server starts, so that it creates no first admin of its own.
echo "e2e admin passphrase 4417" | "$bin" user create --username admin --role admin \
  --display-name "Ada Admin" --password-stdin >/dev/null
echo "e2e auditor passphrase 9023" | "$bin" user create --username auditor --role auditor \
  --display-name "Avery Auditor" --password-stdin >/dev/null
# The tests that add entries (the live updates) ingest with this token.
"$bin" token create --name e2e --scopes ingest | tail -n 1 > "$data/token"
# The scheduled purge would record its run among the entries the read-only tests count:
# its first run is a day away (tests/settings.spec.ts changes the retention itself).
exec "$bin" serve --addr "127.0.0.1:$port" --site-root target/site --purge-first-after-seconds 86400
