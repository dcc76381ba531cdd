import { expect, test as setup } from "@playwright/test";
import { writeFileSync } from "node:fs";
import { people, signIn } from "./support";

// Runs first (playwright.config.ts): each person signs in once, and the other tests start
// from their signed-in browser state.

for (const who of [people.admin, people.auditor]) {
  setup(`${who.username} signs in`, async ({ page }) => {
    await page.goto("/login");
    await signIn(page, who);
    await expect(page).toHaveURL(/\/audit$/);
    // Only the session: the time zone and other preferences stay each test's own.
    const state = await page.context().storageState();
    state.cookies = state.cookies.filter((cookie) => cookie.name === "cc_session");
    state.origins = [];
    writeFileSync(who.state, JSON.stringify(state));
  });
}
