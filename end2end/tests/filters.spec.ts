import { expect, test, type Page } from "@playwright/test";
import { hydrated, TOTAL } from "./support";

// The e2e server's 120 seeded events (scripts/e2e-server.sh, seed 1) hold, among others:
// 10 errors (4 of them by the system), 18 rotation.* events, all 18 by rotation-worker,
// 29 auth.logout, 2 settings.updated and 3 entries that name alice nguyen.


const summary = (page: Page) => page.locator(".summary");
const rows = (page: Page) => page.locator("table.entries tbody tr");

async function columnTexts(page: Page, cell: string): Promise<string[]> {
  return rows(page).locator(cell).allInnerTexts();
}

test("severity filter narrows the rows and shows as a chip", async ({ page }) => {
  await page.goto("/audit");
  await hydrated(page);
  await page.getByRole("checkbox", { name: "error", exact: true }).check();
  await expect(page).toHaveURL(/\/audit\?severity=error$/);
  await expect(summary(page)).toHaveText("Showing 1–10 of 10");
  expect(new Set(await columnTexts(page, ".badge"))).toEqual(new Set(["error"]));
  await expect(page.getByRole("link", { name: "Remove filter Severity: error" })).toBeVisible();
});

test("event types: one type, or a whole category at once", async ({ page }) => {
  await page.goto("/audit");
  await hydrated(page);
  await page.locator("details.event-types summary").click();
  await page.getByRole("checkbox", { name: "Rotation (all)" }).check();
  await expect(summary(page)).toHaveText("Showing 1–18 of 18");
  expect((await columnTexts(page, ".event-type")).every((t) => t.startsWith("rotation."))).toBe(true);
  await expect(page.getByRole("link", { name: "Remove filter Event type: Rotation (all)" })).toBeVisible();
  await expect(page.getByRole("checkbox", { name: "rotation.failed" })).toBeChecked();

  // Leaving one type of the category keeps the other two.
  await page.getByRole("checkbox", { name: "rotation.failed" }).uncheck();
  await expect(summary(page)).toHaveText("Showing 1–14 of 14");
  expect(await columnTexts(page, ".event-type")).not.toContain("rotation.failed");
  await expect(page.getByRole("checkbox", { name: "Rotation (all)" })).not.toBeChecked();
});

test("actor filter: a named actor or the system, with suggestions", async ({ page }) => {
  await page.goto("/audit");
  await hydrated(page);
  const actor = page.getByRole("combobox", { name: "Actor" });
  await actor.fill("rotation-w");
  // The suggestion list is filled from the store as the reader types.
  await expect(page.locator("#actor-suggestions option[value='rotation-worker']")).toHaveCount(1);
  await actor.fill("rotation-worker");
  await actor.press("Enter");
  await expect(page).toHaveURL(/actor=rotation-worker/);
  await expect(summary(page)).toHaveText("Showing 1–18 of 18");
  expect(new Set(await columnTexts(page, ".actor"))).toEqual(new Set(["SERVICE rotation-worker"]));

  await actor.fill("system");
  await actor.press("Enter");
  await expect(page).toHaveURL(/actor=system/);
  await expect(summary(page)).toHaveText("Showing 1–8 of 8");
  await expect(rows(page).locator(".actor.system")).toHaveCount(8);
});

test("date presets and a custom range narrow by time", async ({ page }) => {
  await page.goto("/audit");
  await hydrated(page);
  const before = Date.now();
  await page.getByRole("link", { name: "Last 24 hours" }).click();
  await expect(page).toHaveURL(/start_date=/);
  const startDate = new URL(page.url()).searchParams.get("start_date") ?? "";
  expect(startDate).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:00Z$/);
  const start = Date.parse(startDate);
  expect(Math.abs(before - 24 * 3600_000 - start)).toBeLessThan(120_000);
  await expect(page.getByRole("link", { name: /Remove filter From:/ })).toBeVisible();
  const times = await rows(page).locator("time").evaluateAll((els) => els.map((e) => Date.parse(e.getAttribute("datetime") ?? "")));
  expect(times.length).toBeGreaterThan(0);
  expect(times.every((t) => t >= start)).toBe(true);

  // A custom range before every entry leaves nothing, and the empty state says why.
  // An end typed to the second covers that whole second.
  for (const [label, value, param, expected] of [
    ["From (UTC)", "2020-01-01T00:00:00", "start_date", "2020-01-01T00:00:00"],
    ["To (UTC)", "2020-01-02T12:30:00", "end_date", "2020-01-02T12:30:00.999999"],
  ]) {
    await page.getByLabel(label).fill(value);
    await page.getByLabel(label).dispatchEvent("change");
    await expect.poll(() => new URL(page.url()).searchParams.get(param)).toBe(expected);
    await expect(page.getByLabel(label)).toHaveValue(value.replace(/:00$/, ""));
  }
  await expect(page.locator(".state.empty")).toContainText("No entries match these filters:");
  await expect(page.locator(".state.empty")).toContainText("From: 2020-01-01T00:00:00");
  await expect(page.locator(".state.empty")).toContainText("Until: 2020-01-02T12:30:00.999999");
});

test("search is applied as you type, highlighted, and combines with filters", async ({ page }) => {
  await page.goto("/audit");
  await hydrated(page);
  await page.getByRole("searchbox", { name: "Search" }).pressSequentially("nguyen", { delay: 30 });
  await expect(page).toHaveURL(/\/audit\?q=nguyen$/);
  await expect(summary(page)).toHaveText("Showing 1–3 of 3");
  const marks = await rows(page).locator("mark").allInnerTexts();
  expect(marks.length).toBeGreaterThanOrEqual(3);
  expect(marks.every((m) => m.toLowerCase() === "nguyen")).toBe(true);

  await page.goto("/audit?severity=error&actor=system");
  await hydrated(page);
  await expect(summary(page)).toHaveText("Showing 1–4 of 4");
  await page.getByRole("searchbox", { name: "Search" }).fill("zzzz-nothing");
  await expect(page).toHaveURL(/q=zzzz-nothing/);
  await expect(page.locator(".state.empty")).toContainText("Search: “zzzz-nothing”");
  await expect(page.locator(".state.empty")).toContainText("Severity: error");
});

test("chips remove one filter each, and clear all removes them all", async ({ page }) => {
  await page.goto("/audit?severity=error&actor=system&limit=25");
  await hydrated(page);
  await expect(summary(page)).toHaveText("Showing 1–4 of 4");
  await page.getByRole("link", { name: "Remove filter Actor: system" }).click();
  await expect(page).toHaveURL(/\/audit\?limit=25&severity=error$/);
  await expect(summary(page)).toHaveText("Showing 1–10 of 10");
  await page.getByRole("link", { name: "Clear all" }).click();
  await expect(page).toHaveURL(/\/audit\?limit=25$/);
  await expect(summary(page)).toHaveText(`Showing 1–25 of ${TOTAL}`);
  await expect(page.locator(".chips")).toHaveCount(0);
});

test("the URL is the state: load it, change it, go back", async ({ page }) => {
  await page.goto("/audit?event_type=auth.logout&limit=25");
  await hydrated(page);
  await expect(summary(page)).toHaveText("Showing 1–25 of 29");
  await page.locator("details.event-types summary").click();
  await expect(page.getByRole("checkbox", { name: "auth.logout" })).toBeChecked();
  await expect(page.getByLabel("Per page")).toHaveValue("25");

  await page.getByRole("link", { name: "Older →" }).click();
  await expect(summary(page)).toHaveText("Showing 26–29 of 29");
  await page.getByRole("checkbox", { name: "warning", exact: true }).check();
  await expect(page).toHaveURL(/\/audit\?limit=25&event_type=auth.logout&severity=warning$/);
  await expect(page.locator(".state.empty")).toBeVisible();

  await page.goBack();
  await expect(page).toHaveURL(/offset=25/);
  await expect(summary(page)).toHaveText("Showing 26–29 of 29");
  await expect(page.getByRole("checkbox", { name: "warning", exact: true })).not.toBeChecked();
  await page.goBack();
  await expect(summary(page)).toHaveText("Showing 1–25 of 29");
  await page.goForward();
  await expect(summary(page)).toHaveText("Showing 26–29 of 29");
});

test("page size and first/newer/older pages", async ({ page }) => {
  await page.goto("/audit");
  await hydrated(page);
  await page.getByLabel("Per page").selectOption("25");
  await expect(page).toHaveURL(/\/audit\?limit=25$/);
  await expect(rows(page)).toHaveCount(25);
  await expect(page.locator(".pager .position")).toHaveText("Page 1 of 5");
  await page.getByRole("link", { name: "Older →" }).click();
  await page.getByRole("link", { name: "Older →" }).click();
  await expect(summary(page)).toHaveText(`Showing 51–75 of ${TOTAL}`);
  await expect(page.locator(".pager .position")).toHaveText("Page 3 of 5");
  await page.getByRole("link", { name: "« Newest" }).click();
  await expect(summary(page)).toHaveText(`Showing 1–25 of ${TOTAL}`);
  await expect(page.locator(".pager .first")).toHaveClass(/disabled/);
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the server renders the rows a URL asks for, and the form works", async ({ page }) => {
    await page.goto("/audit?severity=error&actor=system");
    await expect(summary(page)).toHaveText("Showing 1–4 of 4");
    await expect(page.getByRole("checkbox", { name: "error", exact: true })).toBeChecked();
    await expect(page.getByRole("combobox", { name: "Actor" })).toHaveValue("system");

    // A plain form submission sends every field, empty ones too.
    await page.getByRole("checkbox", { name: "warning", exact: true }).check();
    await page.getByRole("button", { name: "Apply" }).click();
    await expect(page).toHaveURL(/severity=warning/);
    await expect(page.getByRole("checkbox", { name: "warning", exact: true })).toBeChecked();
    const badges = new Set(await columnTexts(page, ".badge"));
    expect([...badges].every((b) => b === "error" || b === "warning")).toBe(true);
    expect(new Set(await columnTexts(page, ".actor"))).toEqual(new Set(["SYSTEM system"]));
  });
});
