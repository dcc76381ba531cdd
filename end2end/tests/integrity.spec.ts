import { expect, test } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { hydrated, people } from "./support";

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

test("an auditor downloads an evidence pack that verifies offline with the published key", async ({ browser }) => {
  const context = await browser.newContext({ storageState: people.auditor.state });
  const page = await context.newPage();
  // The key, as the Integrity page publishes it.
  await page.goto("/integrity");
  await expect(page.locator("section.integrity[data-hydrated=true]")).toBeVisible();
  const key = (await page.locator(".verifier-key").innerText()).trim();
  expect(key).toMatch(/^certifyclouds\.local\/audit\+[0-9a-f]{8}\+/);

  await page.goto("/audit?severity=error");
  await hydrated(page);
  await page.getByRole("button", { name: "Export…" }).click();
  const dialog = page.getByRole("dialog", { name: "Export audit entries" });
  await dialog.getByRole("radio", { name: /^Evidence pack/ }).check();
  const [file] = await Promise.all([page.waitForEvent("download"), dialog.getByRole("link", { name: "Download" }).click()]);
  await expect(dialog.getByRole("status")).toHaveText(/Preparing the evidence pack/);
  expect(file.suggestedFilename()).toMatch(/^certifyclouds-audit-start_\d{4}-\d\d-\d\d\.zip$/);
  const path = (await file.path())!;

  // The Python verifier of docs/, standard library only, as an assessor would run it.
  const said = execFileSync("python3", [join(__dirname, "..", "..", "docs", "verify_pack.py"), path, key]).toString();
  expect(said).toMatch(/^Evidence pack intact: \d+ entries, each proven in the signed checkpoint/);
  await context.close();
});
