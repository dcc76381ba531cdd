#!/usr/bin/env bash
# Builds the browser bundle into target/site without cargo-leptos, names its files for
# their content and compresses them (scripts/pack-site.js), then builds the server.
#   scripts/build-site.sh release   # target/release/certifyclouds, wasm-opt applied
#   scripts/build-site.sh debug     # target/debug/certifyclouds, for the browser tests
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-release}
export PATH="$HOME/.cargo/bin:$PATH"
name=certifyclouds
site=target/site
pkg=$site/pkg

cargo build -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release
rm -rf "$pkg"
mkdir -p "$pkg"
wasm-bindgen --target web --no-typescript --out-dir "$pkg" --out-name "$name" \
  target/wasm32-unknown-unknown/wasm-release/frontend.wasm
if [ "$mode" = release ]; then
  # binaryen from npm: Debian's wasm-opt 108 produces a bundle that fails to hydrate.
  end2end/node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue --enable-sign-ext --enable-mutable-globals \
    "$pkg/${name}_bg.wasm" -o "$pkg/${name}_bg.wasm"
fi
cp style/main.css "$pkg/$name.css"
rm -f "$site"/*.svg* "$site/output-name"
cp -r public/. "$site/"
# Content-hashed names and brotli/gzip copies of the script, WASM and stylesheet.
node scripts/pack-site.js "$site" "$name"

if [ "$mode" = release ]; then
  cargo build -p server --release
else
  cargo build -p server
fi
