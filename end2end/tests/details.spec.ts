import { expect, test } from "@playwright/test";
import { hydrated } from "./support";

// Seed 1 (scripts/e2e-server.sh) holds two settings.updated entries, each a change of a
// setting from 90 to 180.


test("details open in a side panel with every field, and close with Escape", async ({ page }) => {
  await page.goto("/audit");
  await hydrated(page);
  const row = page.locator("table.entries tbody tr").first();
  const id = await row.getAttribute("id");
  const eventType = (await row.locator(".event-type").innerText()).trim();
  await row.getByRole("link", { name: "Details" }).click();

  const panel = page.getByRole("dialog", { name: "Entry details" });
  await expect(panel).toBeVisible();
  // Opening the panel is not a navigation.
  await expect(page).toHaveURL(/\/audit$/);
  await expect(row).toHaveClass(/open/);
  for (const field of ["ID", "Time", "Event type", "Severity", "Actor", "Resource", "Description", "Sequence", "Hash"]) {
    await expect(panel.locator("dt", { hasText: new RegExp(`^${field}$`) })).toHaveCount(1);
  }
  await expect(panel.getByRole("link", { name: id ?? "" })).toHaveAttribute("href", `/audit/${id}`);
  // The time in the reader's zone, then the exact UTC instant; then the event type.
  await expect(panel.locator("dd code.exact")).toHaveText(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  await expect(panel.locator("dd code").nth(1)).toHaveText(eventType);

  // The raw JSON is one click away and is the entry as the API returns it.
  await panel.getByText("Raw JSON").click();
  const raw = JSON.parse(await panel.locator("details.raw pre").innerText());
  expect(raw.id).toBe(id);
  expect(raw.event_type).toBe(eventType);

  // Escape closes the panel and returns focus to the row.
  await expect(panel.getByRole("button", { name: "Close details" })).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(panel).toHaveCount(0);
  await expect(row.getByRole("link", { name: "Details" })).toBeFocused();

  // Keyboard only: Enter on the link opens the panel with focus on its close button.
  await row.getByRole("link", { name: "Details" }).press("Enter");
  await expect(panel.getByRole("button", { name: "Close details" })).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(panel).toHaveCount(0);
});

test("a settings change shows its old and new values side by side", async ({ page }) => {
  await page.goto("/audit?event_type=settings.updated");
  await hydrated(page);
  await expect(page.locator(".summary")).toHaveText("Showing 1–2 of 2");
  await page.locator("table.entries tbody tr").first().getByRole("link", { name: "Details" }).click();
  const changes = page.getByRole("dialog", { name: "Entry details" }).locator("table.changes");
  await expect(changes.locator("td.before")).toHaveText("90");
  await expect(changes.locator("td.after")).toHaveText("180");
  await expect(changes.locator("tbody th")).toHaveText(/^(rotation_window_days|alert_email)$/);
});

test("every entry has its own address", async ({ page }) => {
  await page.goto("/audit?event_type=settings.updated");
  const id = await page.locator("table.entries tbody tr").first().getAttribute("id");
  await page.goto(`/audit/${id}`);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(`Audit entry ${id}`);
  await expect(page.locator(".entry-details table.changes td.after")).toHaveText("180");
  await page.getByRole("link", { name: "← Audit log" }).click();
  await expect(page).toHaveURL(/\/audit$/);

  await page.goto("/audit/audit-999999");
  await expect(page.locator(".state.empty")).toHaveText("no audit entry has the id 'audit-999999'");
});
