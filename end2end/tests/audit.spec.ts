import { expect, test } from "@playwright/test";
import { hydrated, TOTAL } from "./support";

// The e2e server holds TOTAL entries (tests/support.ts): three pages of 50.


test("the server renders the newest entries from the store", async ({ page }) => {
  await page.goto("/audit");
  const rows = page.locator("table.entries tbody tr");
  await expect(rows).toHaveCount(50);
  await expect(page.locator(".summary")).toHaveText(`Showing 1–50 of ${TOTAL}`);
  // Newest first: each row's time is not after the one above it.
  const times = await page.locator("table.entries tbody time").evaluateAll((els) =>
    els.map((e) => Date.parse(e.getAttribute("datetime") ?? "")),
  );
  for (let i = 1; i < times.length; i++) expect(times[i]).toBeLessThanOrEqual(times[i - 1]);
  await expect(rows.first().locator(".badge")).toHaveText(/^(info|warning|error)$/);
});

test("next page is fetched in the page after hydration, without a reload", async ({ page }) => {
  await page.goto("/audit");
  await hydrated(page);
  const firstId = await page.locator("table.entries tbody tr").first().getAttribute("id");
  // A full page load would wipe this marker; client-side navigation keeps it.
  await page.evaluate(() => ((window as any).__noReload = true));

  await page.getByRole("link", { name: "Older →" }).click();
  await expect(page).toHaveURL(/\/audit\?offset=50$/);
  await expect(page.locator(".summary")).toHaveText(`Showing 51–100 of ${TOTAL}`);
  await expect(page.locator("table.entries tbody tr")).toHaveCount(50);
  expect(await page.locator("table.entries tbody tr").first().getAttribute("id")).not.toBe(firstId);
  expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);

  await page.getByRole("link", { name: "Older →" }).click();
  await expect(page.locator(".summary")).toHaveText(`Showing 101–${TOTAL} of ${TOTAL}`);
  await expect(page.locator("table.entries tbody tr")).toHaveCount(TOTAL - 100);
  await expect(page.locator(".pager .next")).toHaveClass(/disabled/);
  expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);
});

test("a bad query in the URL shows what was wrong", async ({ page }) => {
  await page.goto("/audit?severity=critical");
  await expect(page.getByRole("alert")).toContainText("severity 'critical' is unknown");
});

test("the tab runs under its Content-Security-Policy without one violation", async ({ page }) => {
  const violations: string[] = [];
  page.on("console", (message) => {
    if (message.text().includes("Content Security Policy")) violations.push(message.text());
  });
  const reply = await page.goto("/audit?severity=error");
  const policy = reply?.headers()["content-security-policy"] ?? "";
  expect(policy).toMatch(/script-src 'self' 'nonce-[^']+' 'wasm-unsafe-eval'/);
  expect(policy).not.toMatch(/script-src[^;]*'unsafe-inline'/);
  await hydrated(page);
  // Server functions, the timeline and the details panel all work under it.
  await page.locator("table.entries tbody tr").first().getByRole("link", { name: "Details" }).click();
  await expect(page.getByRole("dialog", { name: "Entry details" })).toBeVisible();
  await page.keyboard.press("Escape");
  await page.getByRole("switch", { name: "Live" }).check();
  await expect(page.locator(".live-status")).toHaveText("Waiting for new entries…");
  expect(violations).toEqual([]);
});
