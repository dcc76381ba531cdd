import { expect, test, type CDPSession, type Page } from "@playwright/test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

// Bytes a browser transfers to show /audit at 1M entries: a first visit (empty cache)
// and a repeat visit (a new navigation in the same browser). Counted by Chromium itself
// (DevTools' encodedDataLength: what came over the network, headers included). Written to
// the "First load" section of docs/benchmarks.md; nothing here asserts a size.

const FIRST_TARGET = 400 * 1024;
const REPEAT_TARGET = 60 * 1024;

type Fetched = { url: string; bytes: number; encoding: string; cached: boolean };

async function visit(page: Page, cdp: CDPSession): Promise<Fetched[]> {
  const seen = new Map<string, Fetched>();
  const received = (e: any) =>
    seen.set(e.requestId, {
      url: e.response.url,
      bytes: 0,
      encoding: e.response.headers["content-encoding"] ?? e.response.headers["Content-Encoding"] ?? "none",
      cached: e.response.fromDiskCache || e.response.fromPrefetchCache || false,
    });
  const finished = (e: any) => {
    const f = seen.get(e.requestId);
    if (f) f.bytes = e.encodedDataLength;
  };
  // A file served from the memory cache makes no network events at all: it costs nothing.
  cdp.on("Network.responseReceived", received);
  cdp.on("Network.loadingFinished", finished);
  await page.goto("/audit");
  await expect(page.locator("section.audit[data-hydrated=true]")).toBeVisible();
  await page.waitForLoadState("networkidle");
  cdp.off("Network.responseReceived", received);
  cdp.off("Network.loadingFinished", finished);
  return [...seen.values()];
}

const kib = (n: number) => (n / 1024).toFixed(1);

test("bytes of a first and a repeat visit of /audit", async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  const first = await visit(page, cdp);
  const repeat = await visit(page, cdp);
  await context.close();

  const total = (fetched: Fetched[]) => fetched.reduce((sum, f) => sum + f.bytes, 0);
  const rows = (fetched: Fetched[]) =>
    fetched.map((f) => {
      const path = new URL(f.url).pathname;
      return `| \`${path.length > 60 ? path.slice(0, 57) + "…" : path}\` | ${f.cached ? "from cache" : f.encoding} | ${kib(f.bytes)} |`;
    });
  const [firstTotal, repeatTotal] = [total(first), total(repeat)];
  const section = [
    "<!-- first-load -->",
    "## First load of the Audit tab",
    "",
    `Written by \`make bench\` (\`end2end/bench/first-load.spec.ts\`) on ${new Date().toISOString().slice(0, 10)}: bytes`,
    `Debian Chromium received (DevTools' encodedDataLength, headers included) to show \`/audit\` at ${process.env.BENCH_EVENTS ?? "1000000"}`,
    "entries, hydrated, release build. The repeat visit is a new navigation in the same browser: the script, WASM and",
    "stylesheet are named for their content and kept for a year, so only the page itself comes again.",
    "",
    "| visit | bytes | KiB | target | met |",
    "|---|---|---|---|---|",
    `| first (empty cache) | ${firstTotal} | ${kib(firstTotal)} | ≤ 400 KiB | ${firstTotal <= FIRST_TARGET ? "yes" : "**no**"} |`,
    `| repeat | ${repeatTotal} | ${kib(repeatTotal)} | ≤ 60 KiB | ${repeatTotal <= REPEAT_TARGET ? "yes" : "**no**"} |`,
    "",
    "First visit, by resource:",
    "",
    "| resource | encoding | KiB |",
    "|---|---|---|",
    ...rows(first),
    "",
    "Repeat visit, by resource:",
    "",
    "| resource | encoding | KiB |",
    "|---|---|---|",
    ...rows(repeat),
    "<!-- /first-load -->",
    "",
  ].join("\n");
  const path = join(__dirname, "..", "..", "docs", "benchmarks.md");
  const doc = readFileSync(path, "utf8");
  const start = doc.indexOf("<!-- first-load -->");
  const end = doc.indexOf("<!-- /first-load -->");
  const next =
    start >= 0 && end > start
      ? doc.slice(0, start) + section + doc.slice(end + "<!-- /first-load -->\n".length)
      : doc.trimEnd() + "\n\n" + section;
  writeFileSync(path, next);
  console.log(section);
});
