import { expect, test, type Page } from "@playwright/test";
import { readFileSync } from "node:fs";
import { join } from "node:path";

// Runs after every read-only test (playwright.config.ts): it adds entries.
const token = () => readFileSync(join(__dirname, "..", ".data", "token"), "utf8").trim();

async function hydrated(page: Page) {
  await expect(page.locator("section.audit[data-hydrated=true]")).toBeVisible();
}

async function ingest(page: Page, events: object[]) {
  const reply = await page.request.post("/audit/events", {
    headers: { authorization: `Bearer ${token()}` },
    data: events,
  });
  expect(reply.status(), await reply.text()).toBe(201);
}

const event = (description: string, severity: string) => ({
  timestamp: new Date().toISOString(),
  event_type: "sync.failed",
  actor: { type: "service", id: "sp-sync", name: "sync-worker" },
  description,
  details: { error: "vault unreachable", failed_secrets: 3 },
  severity,
});

test("live updates stream matching new entries into the top of the table", async ({ page }) => {
  await page.goto("/audit?severity=error");
  await hydrated(page);
  const rows = page.locator("table.entries tbody tr");
  await expect(rows).toHaveCount(10);
  await page.getByRole("switch", { name: "Live" }).check();
  await expect(page.locator(".live-status")).toHaveText("Waiting for new entries…");

  // The reader has scrolled down the table: new rows must not move what they read.
  await page.setViewportSize({ width: 1280, height: 500 });
  const anchor = page.locator(`[id="${await rows.nth(6).getAttribute("id")}"]`);
  await anchor.scrollIntoViewIfNeeded();
  await page.evaluate(() => window.scrollBy({ top: 40, behavior: "instant" }));
  expect(await page.evaluate(() => window.scrollY)).toBeGreaterThan(0);
  const before = (await anchor.boundingBox())!.y;

  // One entry that matches (an error) and one that does not (a warning).
  await ingest(page, [event("Sync failed: live test one", "error"), event("Sync failed: filtered out", "warning")]);
  await expect(rows.first()).toContainText("live test one");
  await expect(rows.first()).toHaveClass(/fresh/);
  await expect(rows).toHaveCount(11);
  await expect(page.locator(".live-status")).toHaveText("1 new entry");
  await expect(page.locator("table.entries")).not.toContainText("filtered out");
  await expect.poll(async () => Math.abs((await anchor.boundingBox())!.y - before)).toBeLessThan(2);

  // Off: nothing more arrives.
  await page.getByRole("switch", { name: "Live" }).uncheck();
  await ingest(page, [event("Sync failed: after live was turned off", "error")]);
  await page.waitForTimeout(1500);
  await expect(page.locator("table.entries")).not.toContainText("after live was turned off");
});
