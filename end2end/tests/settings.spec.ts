import { expect, test } from "@playwright/test";
import { hydrated, ingest, people } from "./support";

// Runs after every read-only test (playwright.config.ts): it changes the retention.

const settingsHydrated = (page: import("@playwright/test").Page) =>
  expect(page.locator("section.settings[data-hydrated=true]")).toBeVisible();

test("an admin shortens the retention in Settings > Advanced after confirming, and the change is in the Audit tab", async ({
  page,
}) => {
  // One entry 45 days old, arriving late: a retention of 40 days makes it due (once an
  // entry came after it: the newest is never purged).
  const old = new Date(Date.now() - 45 * 86_400_000).toISOString();
  await ingest(page, [
    {
      timestamp: new Date().toISOString(),
      event_type: "secret.accessed",
      actor: { type: "user", id: "u-archive", name: "old.reader" },
      description: "A read the moment it happened",
      details: { secret_name: "db-password" },
    },
    {
      timestamp: old,
      event_type: "secret.accessed",
      actor: { type: "user", id: "u-archive", name: "old.reader" },
      description: "An old read, for the retention test",
      details: { secret_name: "db-password" },
    },
  ]);
  await ingest(page, [
    {
      timestamp: new Date().toISOString(),
      event_type: "secret.accessed",
      actor: { type: "user", id: "u-archive", name: "old.reader" },
      description: "A read after the late one",
      details: { secret_name: "db-password" },
    },
  ]);

  await page.goto("/audit");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Settings" }).click();
  await expect(page).toHaveURL(/\/settings$/);
  await settingsHydrated(page);
  await page.getByRole("navigation", { name: "Settings sections" }).getByRole("link", { name: "Advanced" }).click();
  await expect(page).toHaveURL(/\/settings\/advanced$/);
  await settingsHydrated(page);
  const form = page.getByRole("form", { name: "Audit Log Retention" });
  const days = form.getByLabel("Audit log retention (days)");
  await expect(days).toHaveValue("90");
  await expect(form.locator("#retention-meaning")).toContainText("Entries older than 90 days are deleted at the next purge");
  await expect(form.locator("#retention-meaning")).toContainText(/at \d\d:\d\d \(\d{4}-\d\d-\d\d, /);
  await expect(page.locator("dl.purge-facts")).toContainText(/Oldest entry kept\s*\d{4}-\d\d-\d\d/);

  // Refused in the form, with the bounds.
  for (const bad of ["29", "366", "90.5", "abc", ""]) {
    await days.fill(bad);
    await form.getByRole("button", { name: "Save" }).click();
    await expect(form.getByRole("alert")).toHaveText(
      "Audit log retention (days): must be a whole number of days from 30 to 365",
    );
  }

  // The archive directory: off by default, an absolute path when set.
  const archive = form.getByLabel("Archive directory");
  await expect(archive).toHaveValue("");
  await days.fill("90");
  await archive.fill("relative/dir");
  await form.getByRole("button", { name: "Save" }).click();
  await expect(form.getByRole("alert")).toHaveText(
    "Archive directory: must be an absolute path (starting with /), or empty for none",
  );
  await archive.fill("");

  // Shorter: the form says what the next purge deletes, and asks; Cancel saves nothing.
  await days.fill("40");
  await expect(form.locator(".due")).toContainText("With 40 days, the next purge will delete 1 entry");
  await form.getByRole("button", { name: "Save" }).click();
  const ask = form.getByRole("alertdialog");
  await expect(ask).toContainText("Shorten the retention from 90 to 40 days? The next purge will delete 1 entry");
  await ask.getByRole("button", { name: "Cancel" }).click();
  await expect(ask).toHaveCount(0);
  await form.getByRole("button", { name: "Save" }).click();
  await form.getByRole("alertdialog").getByRole("button", { name: "Confirm" }).click();
  await expect(page.locator(".outcome.done")).toHaveText("Saved: audit log retention changed from 90 to 40 days.");
  await expect(form.getByLabel("Audit log retention (days)")).toHaveValue("40");

  // Longer again: no question asked.
  await form.getByLabel("Audit log retention (days)").fill("120");
  await form.getByRole("button", { name: "Save" }).click();
  await expect(page.locator(".outcome.done")).toHaveText("Saved: audit log retention changed from 40 to 120 days.");

  // The Audit tab has both changes, the newest first, with old and new values.
  // (Seed 1 holds two older settings.updated entries.)
  await page.goto("/audit?event_type=settings.updated");
  await hydrated(page);
  await expect(page.locator(".summary")).toHaveText("Showing 1–4 of 4");
  await page.locator("table.entries tbody tr").first().getByRole("link", { name: "Details" }).click();
  const changes = page.getByRole("dialog", { name: "Entry details" }).locator("table.changes");
  await expect(changes.locator("tbody th")).toHaveText("audit_retention_days");
  await expect(changes.locator("td.before")).toHaveText("40");
  await expect(changes.locator("td.after")).toHaveText("120");
});

test("an auditor sees the retention but cannot change it", async ({ browser }) => {
  const context = await browser.newContext({ storageState: people.auditor.state });
  const page = await context.newPage();
  await page.goto("/audit");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Settings" }).click();
  await settingsHydrated(page);
  const form = page.getByRole("form", { name: "Audit Log Retention" });
  await expect(form.getByLabel("Audit log retention (days)")).toBeDisabled();
  await expect(form.getByLabel("Audit log retention (days)")).toHaveValue(/^\d+$/);
  await expect(form.getByRole("button", { name: "Save" })).toBeDisabled();
  await expect(form).toContainText("Only an admin can change this setting.");
  // The server refuses it too.
  const refused = await page.request.post("/api/settings_save", {
    headers: { "content-type": "application/json" },
    data: { values: [["audit_retention_days", "200"]] },
  });
  expect(refused.status()).toBe(403);
  await context.close();
});

test("an admin adds and removes a cloud subscription in Settings > Subscriptions, each recorded", async ({ page }) => {
  const id = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
  await page.goto("/settings");
  await settingsHydrated(page);
  await page.getByRole("navigation", { name: "Settings sections" }).getByRole("link", { name: "Subscriptions" }).click();
  await expect(page).toHaveURL(/\/settings\/subscriptions$/);
  const form = page.getByRole("form", { name: "Add a subscription" });
  await form.getByLabel("Subscription ID").fill("not-a-guid");
  await form.getByLabel("Display name").fill("Production (e2e)");
  await form.getByLabel("Cloud").selectOption("aws");
  await form.getByRole("button", { name: "Add subscription" }).click();
  await expect(form.getByRole("alert")).toHaveText(
    "Subscription ID must be a GUID such as 0f8fad5b-d9cb-469f-a165-70867728950e.",
  );
  await form.getByLabel("Subscription ID").fill(id.toUpperCase());
  await form.getByRole("button", { name: "Add subscription" }).click();
  await expect(page.locator(".outcome.done")).toHaveText(`Added subscription Production (e2e) (${id}).`);
  const row = page.locator("table.subscriptions tbody tr", { hasText: "Production (e2e)" });
  await expect(row.locator("td").nth(1)).toHaveText(id);
  await expect(row.locator("td").nth(2)).toHaveText("AWS");

  // The same id again is refused by the server.
  await form.getByLabel("Subscription ID").fill(id);
  await form.getByLabel("Display name").fill("Twice");
  await form.getByRole("button", { name: "Add subscription" }).click();
  await expect(page.getByRole("alert")).toContainText(`subscription ${id} is already added`);

  await row.getByRole("button", { name: `Remove Production (e2e) (${id})` }).click();
  await row.getByRole("button", { name: "Confirm remove" }).click();
  await expect(page.locator(".outcome.done")).toHaveText(`Removed subscription Production (e2e) (${id}).`);
  await expect(page.locator("table.subscriptions tbody tr", { hasText: "Production (e2e)" })).toHaveCount(0);

  await page.goto("/audit?event_type=subscription.added");
  await hydrated(page);
  await expect(page.locator("table.entries tbody tr").first()).toContainText(`Subscription ${id} added by admin`);
});
