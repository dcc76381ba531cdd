import { expect, test } from "@playwright/test";
import { hydrated, people } from "./support";

test("an auditor reads each control's evidence for a period and follows it to the entries", async ({ browser }) => {
  const context = await browser.newContext({ storageState: people.auditor.state });
  const page = await context.newPage();
  await page.goto("/audit");
  await hydrated(page);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Compliance" }).click();
  await expect(page).toHaveURL(/\/compliance$/);
  const row = page.getByRole("row", { name: /CC6\.1/ });
  await expect(row).toContainText("Logical access security");
  await expect(page.getByRole("row", { name: /AU-9/ })).toContainText("Latest signed checkpoint");

  const period = page.getByRole("form", { name: "Period" });
  await period.getByLabel("From").fill("2000-01-01");
  await period.getByLabel("To").fill("2099-12-31");
  await period.getByRole("button", { name: "Show" }).click();
  await expect(page).toHaveURL(/start_date=2000-01-01&end_date=2099-12-31/);
  await expect(page.locator(".period-shown")).toHaveText("From 2000-01-01 to 2099-12-31");
  const signIns = page.getByRole("row", { name: /CC6\.1/ }).getByRole("link").first();
  await expect(signIns).toHaveText(/^\d+ entries \(auth\.\*\)$/);
  await signIns.click();
  await expect(page).toHaveURL(/\/audit\?.*event_type=auth\.\*/);
  await context.close();
});
