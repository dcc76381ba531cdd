import { expect, type Page } from "@playwright/test";
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** Waits until the Audit tab has hydrated (its section says so once the WASM runs). */
export async function hydrated(page: Page) {
  await expect(page.locator("section.audit[data-hydrated=true]")).toBeVisible();
}

/** The ingest token scripts/e2e-server.sh created for the tests that add entries. */
export const token = () => readFileSync(join(__dirname, "..", ".data", "token"), "utf8").trim();

/** Posts events with the ingest token; they must be accepted. */
export async function ingest(page: Page, events: object[]) {
  const reply = await page.request.post("/audit/events", {
    headers: { authorization: `Bearer ${token()}` },
    data: events,
  });
  expect(reply.status(), await reply.text()).toBe(201);
}

export { people } from "./people";

/**
 * Everything the read-only tests see: the 120 seeded events, the ingest token created
 * (token.created), the two users created (user.created) and their two sign-ins
 * (auth.login.success) in tests/auth.setup.ts.
 */
export const TOTAL = 125;

/** Signs in on the sign-in page as a person does. */
export async function signIn(page: Page, who: { username: string; password: string }) {
  await page.getByLabel("Username").fill(who.username);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** A browser state with nobody signed in (new contexts otherwise start as the project's person). */
export const nobody = { cookies: [], origins: [] };
