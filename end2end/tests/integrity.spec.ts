import { expect, test } from "@playwright/test";
import { people } from "./support";

// Runs with the tests that add entries (playwright.config.ts): each verification and
// checkpoint is recorded.

test("an admin signs a checkpoint and verifies the log from the Integrity page", async ({ page }) => {
  await page.goto("/audit");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Integrity" }).click();
  await expect(page).toHaveURL(/\/integrity$/);
  await expect(page.locator("section.integrity[data-hydrated=true]")).toBeVisible();
  await expect(page.getByRole("heading", { name: "Public key" })).toBeVisible();
  await expect(page.locator(".verifier-key")).toContainText("certifyclouds.local/audit+");

  await page.getByRole("button", { name: "Sign a checkpoint now" }).click();
  await expect(page.locator(".outcome.done")).toHaveText(/^Checkpoint of \d+ entries signed\.$/);
  const checkpoint = page.getByRole("region", { name: "Latest checkpoint" });
  await expect(checkpoint.getByText("The signed note")).toBeVisible();

  await page.getByRole("button", { name: "Verify now" }).click();
  await expect(page.locator(".outcome.done")).toHaveText(/^Verified: the log is intact \(\d+ entries\)\.$/);
  const verification = page.getByRole("region", { name: "Verification" });
  await expect(verification.locator(".headline")).toContainText("Intact:");
  await expect(verification.getByText(`on demand by ${people.admin.username}`)).toBeVisible();

  // The run is in the log: its entry opens from the page.
  await verification.getByRole("link", { name: /^audit-\d+$/ }).click();
  await expect(page).toHaveURL(/\/audit\/audit-\d+$/);
  await expect(page.getByText("Integrity verified:").first()).toBeVisible();
});

test("an auditor may verify but not sign a checkpoint", async ({ browser }) => {
  const context = await browser.newContext({ storageState: people.auditor.state });
  const page = await context.newPage();
  await page.goto("/integrity");
  await expect(page.locator("section.integrity[data-hydrated=true]")).toBeVisible();
  await expect(page.getByRole("button", { name: "Verify now" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Sign a checkpoint now" })).toHaveCount(0);
  await page.getByRole("button", { name: "Verify now" }).click();
  await expect(page.locator(".outcome.done")).toHaveText(/^Verified: the log is intact/);
  await expect(page.getByRole("region", { name: "Verification" }).getByText(`on demand by ${people.auditor.username}`)).toBeVisible();
  await context.close();
});
