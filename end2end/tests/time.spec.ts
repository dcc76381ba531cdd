import { expect, test } from "@playwright/test";
import { hydrated } from "./support";

// Times show in the browser's zone with the offset, a switch shows UTC, the choice
// survives a reload (the server renders it), and every time's tooltip is the exact UTC
// instant.
test.use({ timezoneId: "Asia/Kolkata" });


/** The instant a `datetime` attribute names, as shown in +05:30. */
function kolkata(datetime: string): string {
  const t = new Date(Date.parse(datetime) + 330 * 60_000).toISOString();
  return `${t.slice(0, 10)} ${t.slice(11, 19)} +05:30`;
}

test("times follow the browser's zone, or UTC when asked", async ({ page }) => {
  await page.goto("/audit");
  await hydrated(page);
  const time = page.locator("table.entries tbody tr").first().locator("time");
  const datetime = (await time.getAttribute("datetime")) ?? "";
  await expect(time).toHaveText(kolkata(datetime));
  await expect(time).toHaveAttribute("title", `${datetime} (UTC)`);
  await expect(page.getByRole("radio", { name: "Local time" })).toBeChecked();

  await page.getByRole("radio", { name: "UTC" }).check();
  await expect(time).toHaveText(`${datetime.slice(0, 10)} ${datetime.slice(11, 19)} UTC`);
  // The server renders the choice too, so a reload shows UTC from the first byte.
  const html = await (await page.request.get("/audit")).text();
  expect(html).toMatch(/<time [^>]*>(<!---->|<!>)?\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);

  await page.getByRole("radio", { name: "Local time" }).check();
  await expect(time).toHaveText(kolkata(datetime));
  const local = await (await page.request.get("/audit")).text();
  expect(local).toContain(kolkata(datetime));
});
