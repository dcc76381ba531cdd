import { expect, test } from "@playwright/test";
import { hydrated, nobody, people, signIn } from "./support";

// Runs after every read-only test (playwright.config.ts): it adds users, tokens and sign-ins.

test("an auditor sees no admin pages and is told so when reaching one by its address", async ({ browser }) => {
  const context = await browser.newContext({ storageState: people.auditor.state });
  const page = await context.newPage();
  await page.goto("/audit");
  await hydrated(page);
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Audit" })).toBeVisible();
  await expect(nav.getByRole("link", { name: "Users" })).toHaveCount(0);
  await expect(nav.getByRole("link", { name: "API tokens" })).toHaveCount(0);
  for (const path of ["/users", "/tokens"]) {
    const reply = await page.goto(path);
    expect(reply?.status()).toBe(403);
    await expect(page.getByRole("heading", { name: "Not allowed" })).toBeVisible();
    await expect(page.getByText("This page is for admins.")).toBeVisible();
  }
  await context.close();
});

test("an admin creates a user, who then signs in, and the Audit tab shows the user.created entry", async ({
  page,
  browser,
}) => {
  await page.goto("/audit");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users" }).click();
  await expect(page).toHaveURL(/\/users$/);
  await expect(page.locator("section.admin[data-hydrated=true]")).toBeVisible();
  const form = page.getByRole("form", { name: "Add a user" });
  await form.getByLabel("Username").fill("nora.e2e");
  await form.getByLabel("Display name").fill("Nora Example");
  await form.getByLabel("Role").selectOption("auditor");
  await form.getByLabel("Initial password").fill("short");
  await form.getByRole("button", { name: "Create user" }).click();
  await expect(page.getByRole("alert")).toContainText("password");
  await form.getByLabel("Initial password").fill("nora's long e2e passphrase");
  await form.getByRole("button", { name: "Create user" }).click();
  await expect(page.getByRole("status").first()).toHaveText("Created user nora.e2e (auditor).");
  const row = page.locator("table.users tbody tr", { hasText: "nora.e2e" });
  await expect(row.locator("td").nth(1)).toHaveText("Nora Example");
  await expect(row.locator("td.status")).toHaveText("active");

  // The new user signs in.
  const context = await browser.newContext({ storageState: nobody });
  const other = await context.newPage();
  await other.goto("/login");
  await signIn(other, { username: "nora.e2e", password: "nora's long e2e passphrase" });
  await expect(other).toHaveURL(/\/audit$/);
  await expect(other.getByRole("banner").locator(".who")).toHaveText("Nora Example");
  await context.close();

  // The Audit tab has the creation, by the admin, with the spec's details.
  await page.goto("/audit?event_type=user.created&q=nora.e2e");
  await hydrated(page);
  await expect(page.locator(".summary")).toHaveText("Showing 1–1 of 1");
  const entry = page.locator("table.entries tbody tr").first();
  await expect(entry.locator(".actor")).toContainText("admin");
  await entry.getByRole("link", { name: "Details" }).click();
  const panel = page.getByRole("dialog", { name: "Entry details" });
  await panel.getByText("Raw JSON").click();
  const raw = JSON.parse(await panel.locator("details.raw pre").innerText());
  expect(raw.event_type).toBe("user.created");
  expect(raw.actor).toMatchObject({ type: "user", name: "admin" });
  expect(raw.details).toMatchObject({ username: "nora.e2e", role: "auditor", created_by: "admin" });
  expect(JSON.stringify(raw)).not.toContain("passphrase");
});

test("an admin creates an API token, sees it once, and revokes it", async ({ page }) => {
  await page.goto("/tokens");
  await expect(page.locator("section.admin[data-hydrated=true]")).toBeVisible();
  const form = page.getByRole("form", { name: "Create a token" });
  await form.getByLabel("Name").fill("e2e-forwarder");
  await form.getByRole("checkbox", { name: "ingest" }).check();
  await form.getByLabel("Expires in (days)").fill("30");
  await form.getByRole("button", { name: "Create token" }).click();
  const shown = page.getByRole("region", { name: "New token" });
  const secret = await shown.getByLabel("New token").inputValue();
  expect(secret).toMatch(/^cca_[0-9a-f]{64}$/);
  const reply = await page.request.get("/audit/entries?limit=1", { headers: { authorization: `Bearer ${secret}` } });
  expect(reply.status()).toBe(200);

  const row = page.locator("table.tokens tbody tr", { hasText: "e2e-forwarder" });
  await expect(row.locator("td").nth(1)).toHaveText("read, ingest");
  await expect(row.locator("td").nth(2)).toHaveText("admin");
  await page.reload();
  await expect(page.getByRole("region", { name: "New token" })).toHaveCount(0);
  await expect(page.locator("body")).not.toContainText(secret);

  await expect(page.locator("section.admin[data-hydrated=true]")).toBeVisible();
  await row.getByRole("button", { name: "Revoke e2e-forwarder" }).click();
  await row.getByRole("button", { name: "Confirm revoke" }).click();
  await expect(page.getByRole("status").first()).toHaveText(
    "Revoked token e2e-forwarder: it is refused from now on.",
  );
  await expect(page.locator("table.tokens tbody tr", { hasText: "e2e-forwarder" })).toHaveCount(0);
  const refused = await page.request.get("/audit/entries?limit=1", { headers: { authorization: `Bearer ${secret}` } });
  expect(refused.status()).toBe(401);
});
