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
  await expect(page.locator("dl.purge-facts")).toContainText("Last purge");

  // Refused in the form, with the bounds.
  for (const bad of ["29", "366", "90.5", "abc", ""]) {
    await days.fill(bad);
    await form.getByRole("button", { name: "Save" }).click();
    await expect(form.getByRole("alert")).toHaveText(
      "Audit log retention (days): enter a whole number of days from 30 to 365.",
    );
  }

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
    data: { name: "audit_retention_days", value: "200" },
  });
  expect(refused.status()).toBe(403);
  await context.close();
});
