import { expect, test, type Page } from "@playwright/test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

// How long the table takes to update after a filter change or a search, measured in the
// page with the Performance API: from the moment the URL changes (history.pushState,
// so after the search debounce) to the moment the loading indicator goes off with the
// new rows in place. Written to docs/ui-benchmarks.md; nothing here asserts a time.

const RUNS = 20;
// The first runs of each interaction warm the browser's and the server's caches.
const WARMUP = 2;

async function instrument(page: Page) {
  await page.addInitScript(() => {
    const w = window as any;
    const push = history.pushState.bind(history);
    history.pushState = (...args: Parameters<History["pushState"]>) => {
      w.__t0 = performance.now();
      return push(...args);
    };
    new MutationObserver((records) => {
      for (const r of records) {
        const el = r.target as Element;
        const wasLoading = (r.oldValue ?? "").includes("visible");
        if (el.matches?.("p.state.loading") && wasLoading && !el.classList.contains("visible")) {
          w.__t1 = performance.now();
        }
      }
    }).observe(document, { subtree: true, attributes: true, attributeFilter: ["class"], attributeOldValue: true });
  });
}

async function hydrated(page: Page, url: string) {
  await page.goto(url);
  await expect(page.locator("section.audit[data-hydrated=true]")).toBeVisible();
}

/** Runs `action` and returns the milliseconds from its URL change to the table update. */
async function timed(page: Page, action: () => Promise<void>): Promise<number> {
  await page.evaluate(() => {
    (window as any).__t0 = undefined;
    (window as any).__t1 = undefined;
  });
  await action();
  await page.waitForFunction(() => (window as any).__t0 !== undefined && (window as any).__t1 !== undefined);
  return page.evaluate(() => (window as any).__t1 - (window as any).__t0);
}

function stats(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  // Nearest rank: the smallest sample at or above the quantile.
  const at = (q: number) => s[Math.max(0, Math.ceil(q * s.length) - 1)];
  return { p50: at(0.5), p95: at(0.95), max: s[s.length - 1] };
}

test("filter and search updates at 1M entries", async ({ page }) => {
  await instrument(page);
  const results: [string, number[]][] = [];
  const measure = async (name: string, start: string, change: () => Promise<void>) => {
    const samples: number[] = [];
    for (let i = 0; i < WARMUP + RUNS; i++) {
      await hydrated(page, start);
      const ms = await timed(page, change);
      if (i >= WARMUP) samples.push(ms);
    }
    results.push([name, samples]);
  };

  await measure("severity=error (a checkbox)", "/audit", () =>
    page.getByRole("checkbox", { name: "error", exact: true }).check(),
  );
  await measure("event type: Rotation (all)", "/audit", async () => {
    await page.locator("details.event-types summary").click();
    await page.getByRole("checkbox", { name: "Rotation (all)" }).check();
  });
  await measure("actor=system (typed, Enter)", "/audit", async () => {
    await page.getByRole("combobox", { name: "Actor" }).fill("system");
    await page.getByRole("combobox", { name: "Actor" }).press("Enter");
  });
  await measure("search q=stripe (typed)", "/audit", () => page.getByRole("searchbox", { name: "Search" }).fill("stripe"));
  await measure("search q=kv-prod-payments (typed)", "/audit", () =>
    page.getByRole("searchbox", { name: "Search" }).fill("kv-prod-payments"),
  );
  await measure("search added to type + severity filters", "/audit?event_type=rotation.failed&severity=error", () =>
    page.getByRole("searchbox", { name: "Search" }).fill("stripe"),
  );
  await measure("Last 7 days preset", "/audit?severity=warning", () =>
    page.getByRole("link", { name: "Last 7 days" }).click(),
  );
  await measure("next page (Older →)", "/audit?offset=500", () => page.getByRole("link", { name: "Older →" }).click());

  const rows = results.map(([name, samples]) => {
    const { p50, p95, max } = stats(samples);
    return `| ${name} | ${samples.length} | ${p50.toFixed(0)} | ${p95.toFixed(0)} | ${max.toFixed(0)} | ${p95 < 150 ? "yes" : "**no**"} |`;
  });
  const report = [
    "# Audit tab speed",
    "",
    `Written by \`make bench\` (\`scripts/bench-ui.sh\`) on ${new Date().toISOString().slice(0, 10)}. Do not edit by hand.`,
    "",
    `${process.env.BENCH_EVENTS ?? "1000000"} seeded entries, release build, headless Debian Chromium on the same 2-core machine as the server.`,
    "Each figure is the time from the URL change (after the 300 ms search debounce) until the table shows the new",
    `rows (the loading indicator goes off), measured in the page with \`performance.now()\`, ${RUNS} runs after ${WARMUP} warm-up runs.`,
    "",
    "| interaction | runs | p50 ms | p95 ms | max ms | p95 < 150 ms |",
    "|---|---|---|---|---|---|",
    ...rows,
    "",
  ].join("\n");
  writeFileSync(join(__dirname, "..", "..", "docs", "ui-benchmarks.md"), report);
  console.log(report);
});
