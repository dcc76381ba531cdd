#!/usr/bin/env bash
# Installs what a fresh machine lacks, from the package registries only:
#   build: the wasm32 target, wasm-bindgen-cli at the version Cargo.lock pins, and the
#          npm packages of end2end/ (binaryen's wasm-opt, Playwright);
#   test:  also Debian's Chromium (never a browser download), poppler's pdftotext,
#          which the PDF export tests read the reports with, python3, which checks
#          the Merkle tree as an outsider would (docs/tree_root.py), and openssl, which
#          checks an evidence pack's signature as its README says;
#   bench: also Debian's sqlite3, which the export benchmark compares against;
#   postgres (and test, bench): Debian's PostgreSQL server, which the tests start privately
#          (scripts/with-postgres.sh).
# Safe to run again: each step checks first.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-build}
export PATH="$HOME/.cargo/bin:$PATH"

say() { echo "setup: $*" >&2; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# The CLI must match the wasm-bindgen crate exactly, or hydration breaks.
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$want" != "$have" ]; then
  say "installing wasm-bindgen-cli $want (a few minutes, once per machine)"
  # Without --locked: the CLI's own lockfile names a crate version the registry lacks.
  cargo install wasm-bindgen-cli --version "$want"
fi

if [ ! -x end2end/node_modules/.bin/wasm-opt ] || [ ! -d end2end/node_modules/@playwright/test ]; then
  say "installing end2end npm packages"
  (cd end2end && npm ci --no-audit --no-fund --loglevel=error)
fi

apt_install() {
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

if [ "$what" = test ] || [ "$what" = bench ]; then
  missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
  command -v python3 >/dev/null 2>&1 || missing+=(python3)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian's ${missing[*]}"
    apt_install "${missing[@]}"
  fi
fi

if [ "$what" = bench ] && ! command -v sqlite3 >/dev/null 2>&1; then
  say "installing Debian's sqlite3"
  apt_install sqlite3
fi

if [ "$what" = test ] || [ "$what" = bench ] || [ "$what" = postgres ]; then
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    say "installing Debian's postgresql"
    apt_install postgresql
  fi
fi
