import { expect, test } from "@playwright/test";
import { hydrated, nobody, people, signIn } from "./support";

// Runs after every read-only test (playwright.config.ts): a sign-in attempt is recorded.

test("a refused sign-in comes back to the form with one message, with or without the script", async ({ browser }) => {
  for (const javaScriptEnabled of [true, false]) {
    const context = await browser.newContext({ javaScriptEnabled, storageState: nobody });
    const page = await context.newPage();
    await page.goto("/login?next=%2Faudit%3Fseverity%3Derror");
    await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
    await expect(page.getByRole("alert")).toHaveCount(0);
    await page.getByLabel("Username").fill("nobody-here");
    await page.getByLabel("Password").fill("not-a-password-at-all");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page).toHaveURL(/\/login\?failed=1&next=%2Faudit%3Fseverity%3Derror$/);
    await expect(page.getByRole("alert")).toHaveText(
      "The username or password is not right, or the account cannot sign in now.",
    );
    // The page to go on to survives the refusal, for the next try.
    await expect(page.locator('input[name="next"]')).toHaveValue("/audit?severity=error");
    await context.close();
  }
});

test("a visit without signing in goes to the sign-in page and comes back after it", async ({ browser }) => {
  const context = await browser.newContext({ storageState: nobody });
  const page = await context.newPage();
  await page.goto("/audit?severity=error");
  await expect(page).toHaveURL(/\/login\?next=%2Faudit%3Fseverity%3Derror$/);
  await signIn(page, people.auditor);
  await expect(page).toHaveURL(/\/audit\?severity=error$/);
  await hydrated(page);
  const bar = page.getByRole("banner");
  await expect(bar.locator(".who")).toHaveText("Avery Auditor");
  await expect(bar.locator(".role")).toHaveText("auditor");
  await context.close();
});

test("a wrong password is refused, then the right one signs in, and signing out ends it", async ({ browser }) => {
  const context = await browser.newContext({ storageState: nobody });
  const page = await context.newPage();
  await page.goto("/login");
  await signIn(page, { username: people.admin.username, password: "not the admin's passphrase" });
  await expect(page.getByRole("alert")).toHaveText(
    "The username or password is not right, or the account cannot sign in now.",
  );
  await signIn(page, people.admin);
  await expect(page).toHaveURL(/\/audit$/);
  await expect(page.getByRole("banner").locator(".who")).toHaveText("Ada Admin");
  await expect(page.getByRole("banner").locator(".role")).toHaveText("admin");

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  // The session is over on the server: the Audit tab asks to sign in again.
  await page.goto("/audit");
  await expect(page).toHaveURL(/\/login\?next=%2Faudit$/);
  await context.close();
});
