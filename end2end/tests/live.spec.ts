import { expect, test } from "@playwright/test";
import { hydrated, ingest } from "./support";

// Runs after every read-only test (playwright.config.ts): it adds entries.


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

  // One entry that does not match (a warning) and, after it, one that does (an error): had
  // the first been let through, it would show before the second does.
  await ingest(page, [event("Sync failed: filtered out", "warning"), event("Sync failed: live test one", "error")]);
  await expect(rows.first()).toContainText("live test one");
  await expect(rows.first()).toHaveClass(/fresh/);
  await expect(rows).toHaveCount(11);
  await expect(page.locator(".live-status")).toHaveText("1 new entry");
  await expect(page.locator("table.entries")).not.toContainText("filtered out");
  await expect.poll(async () => Math.abs((await anchor.boundingBox())!.y - before)).toBeLessThan(2);

  // Off: the stream is closed, so nothing more can arrive.
  const closed = page.waitForEvent("requestfailed", (r) => r.url().includes("/api/audit/live"));
  await page.getByRole("switch", { name: "Live" }).uncheck();
  await closed;
  await ingest(page, [event("Sync failed: after live was turned off", "error")]);
  await expect(page.locator(".live-status")).toHaveText("");
  await expect(page.locator("table.entries")).not.toContainText("after live was turned off");
});
