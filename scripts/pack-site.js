// Names the site's script, WASM and stylesheet for their content (so that browsers may
// keep them for a year: a new build has new names) and stores each one compressed with
// brotli and gzip next to it (so that the server sends them compressed without doing the
// work per request). Writes the new base name to <site>/output-name, which the server
// reads at start.
//   node scripts/pack-site.js target/site certifyclouds
"use strict";
const fs = require("fs");
const path = require("path");
const zlib = require("zlib");
const crypto = require("crypto");

const [site, name] = process.argv.slice(2);
if (!site || !name) {
  console.error("usage: node scripts/pack-site.js <site root> <output name>");
  process.exit(2);
}
const pkg = path.join(site, "pkg");
const parts = [".js", "_bg.wasm", ".css"];

const hash = crypto.createHash("sha256");
for (const part of parts) hash.update(fs.readFileSync(path.join(pkg, name + part)));
const named = `${name}.${hash.digest("hex").slice(0, 16)}`;

const compress = (file) => {
  const bytes = fs.readFileSync(file);
  const br = zlib.brotliCompressSync(bytes, {
    params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.length },
  });
  fs.writeFileSync(file + ".br", br);
  fs.writeFileSync(file + ".gz", zlib.gzipSync(bytes, { level: 9 }));
};

for (const part of parts) {
  const file = path.join(pkg, named + part);
  fs.renameSync(path.join(pkg, name + part), file);
  compress(file);
}
for (const file of fs.readdirSync(site)) {
  if (file.endsWith(".svg")) compress(path.join(site, file));
}
fs.writeFileSync(path.join(site, "output-name"), named + "\n");
console.error(`pack-site: ${named}`);
