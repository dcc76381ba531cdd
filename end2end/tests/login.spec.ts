import { expect, test } from "@playwright/test";

// Runs after every read-only test (playwright.config.ts): a sign-in attempt is recorded.

test("a refused sign-in comes back to the form with one message, with or without the script", async ({ browser }) => {
  for (const javaScriptEnabled of [true, false]) {
    const context = await browser.newContext({ javaScriptEnabled });
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
