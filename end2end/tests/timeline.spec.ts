import { expect, test, type Page } from "@playwright/test";
import { hydrated, TOTAL } from "./support";

// The entries span the last 7 days: the timeline counts them by day.


const bars = (page: Page) => page.locator(".chart svg a");

async function barTotals(page: Page): Promise<number[]> {
  const labels = await bars(page).evaluateAll((els) => els.map((e) => e.getAttribute("aria-label") ?? ""));
  return labels.map((l) => Number(/: (\d+) entries/.exec(l)?.[1] ?? "NaN"));
}

test("the timeline counts the matching entries by day, errors included", async ({ page }) => {
  await page.goto("/audit");
  await hydrated(page);
  await expect(page.locator(".chart svg")).toHaveAttribute("aria-label", new RegExp(`^${TOTAL} entries by day`));
  expect((await barTotals(page)).reduce((a, b) => a + b, 0)).toBe(TOTAL);
  await expect(page.locator(".chart rect.error")).not.toHaveCount(0);

  // It follows the filters: ten errors in all.
  await page.goto("/audit?severity=error");
  await hydrated(page);
  await expect(page.locator(".chart svg")).toHaveAttribute("aria-label", /^10 entries by day/);
});

test("clicking a bar narrows the range to that day", async ({ page }) => {
  await page.goto("/audit");
  await hydrated(page);
  const totals = await barTotals(page);
  const i = totals.findIndex((n) => n > 0);
  await bars(page).nth(i).click();
  await expect(page).toHaveURL(/start_date=\d{4}-\d\d-\d\d&end_date=\d{4}-\d\d-\d\d/);
  await expect(page.locator(".summary")).toContainText(`of ${totals[i]}`);
  // A single day is counted by hour.
  await expect(page.locator(".chart svg")).toHaveAttribute("aria-label", new RegExp(`^${totals[i]} entries by hour`));
});

test("dragging across bars narrows the range to the stretch", async ({ page }) => {
  await page.goto("/audit");
  await hydrated(page);
  const totals = await barTotals(page);
  const n = totals.length;
  const box = (await page.locator(".chart svg").boundingBox())!;
  const x = (i: number) => box.x + ((i + 0.5) / n) * box.width;
  const y = box.y + box.height / 2;
  await page.mouse.move(x(1), y);
  await page.mouse.down();
  await page.mouse.move(x(2), y, { steps: 5 });
  await page.mouse.move(x(3), y, { steps: 5 });
  await expect(page.locator(".chart rect.selection")).toBeVisible();
  await page.mouse.up();
  await expect(page).toHaveURL(/start_date=.*&end_date=/);
  const expected = totals[1] + totals[2] + totals[3];
  await expect(page.locator(".summary, .state.empty").first()).toContainText(expected === 0 ? "No entries" : `of ${expected}`);
});
