import { expect, test } from "@playwright/test";
import { createServer, IncomingMessage, Server, ServerResponse } from "node:http";
import { AddressInfo } from "node:net";
import { hydrated } from "./support";

// Runs with the tests that write (playwright.config.ts): it adds a destination and a rule.

const settingsHydrated = (page: import("@playwright/test").Page) =>
  expect(page.locator("section.settings[data-hydrated=true]")).toBeVisible();

const TOKEN = "5d1a6c3e-8f4b-4d2a-9c7e-0b1f2a3c4d5e";

/** A Splunk HEC stand-in on loopback: keeps each request's authorization and envelopes. */
async function collector(): Promise<{ server: Server; url: string; seen: { auth: string; body: string }[] }> {
  const seen: { auth: string; body: string }[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      seen.push({ auth: String(req.headers.authorization ?? ""), body });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ text: "Success", code: 0 }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}`, seen };
}

test("an admin adds a Splunk destination, sends a test event, sees its health, and adds an alert rule found in the Audit tab", async ({
  page,
}) => {
  const hec = await collector();
  try {
    await page.goto("/settings");
    await settingsHydrated(page);
    await page.getByRole("navigation", { name: "Settings sections" }).getByRole("link", { name: "Integrations" }).click();
    await expect(page).toHaveURL(/\/settings\/integrations$/);
    await settingsHydrated(page);

    const form = page.getByRole("form", { name: "Add a destination" });
    await form.getByLabel("Name").fill("splunk e2e");
    await form.getByLabel("Kind").selectOption("splunk_hec");
    await form.getByLabel("URL").fill("ftp://nowhere");
    await form.getByLabel("HEC token").fill(TOKEN);
    await form.getByRole("button", { name: "Add destination" }).click();
    await expect(form.getByRole("alert")).toContainText("url: use an http:// or https:// address");
    await form.getByLabel("URL").fill(hec.url);
    await form.getByLabel("Index (optional)").fill("audit");
    await form.getByRole("button", { name: "Add destination" }).click();
    await expect(page.locator(".outcome.done")).toHaveText("Added destination splunk e2e.");

    const row = page.locator("table.destinations tbody tr", { hasText: "splunk e2e" });
    await expect(row.locator("td").nth(1)).toHaveText("Splunk HEC");
    // Its id, which alert rules name it by.
    const destinationId = (await row.locator("td.id").textContent())?.trim() ?? "";
    expect(destinationId).toMatch(/^[0-9]+$/);
    await row.getByRole("button", { name: "Send test event to splunk e2e" }).click();
    await expect(page.locator(".outcome.done")).toHaveText("Test event delivered: accepted");
    // Every request carries the token as Splunk wants it; one holds the test event.
    expect(hec.seen.length).toBeGreaterThan(0);
    expect(hec.seen.every((r) => r.auth === `Splunk ${TOKEN}`)).toBe(true);
    const envelopes = hec.seen.flatMap((r) => r.body.trim().split("\n").map((line) => JSON.parse(line)));
    const tested = envelopes.find((e) => e.event.event_type === "delivery.test");
    expect(tested?.index).toBe("audit");

    // The health view: the server's delivery job sends what came after it was added (its
    // own destination.created entry among them); the token is never shown.
    await expect
      .poll(
        async () => {
          await page.reload();
          await settingsHydrated(page);
          return Number(await row.locator("td").nth(6).textContent());
        },
        { timeout: 20_000 },
      )
      .toBeGreaterThan(0);
    await expect(row.locator("td.state")).toHaveText(/idle|delivering/);
    await expect(page.locator("body")).not.toContainText(TOKEN);

    // An alert rule, recorded as alert.rule.created.
    await page.getByRole("navigation", { name: "Settings sections" }).getByRole("link", { name: "Alerts" }).click();
    await expect(page).toHaveURL(/\/settings\/alerts$/);
    await settingsHydrated(page);
    await expect(page.locator("table.alert-rules")).toContainText("Failed sign-ins (built in)");
    // The built-in rule is editable: turned off and on again, each change recorded.
    await page.getByRole("button", { name: "Disable Failed sign-ins" }).click();
    await expect(page.locator(".outcome.done")).toHaveText("Alert rule Failed sign-ins disabled.");
    await page.getByRole("button", { name: "Enable Failed sign-ins" }).click();
    await expect(page.locator(".outcome.done")).toHaveText("Alert rule Failed sign-ins enabled.");
    const rule = page.getByRole("form", { name: "Add an alert rule" });
    await rule.getByLabel("Rule name").fill("Secret deletions (e2e)");
    await rule.getByLabel("Event types to watch").fill("secret.deleted");
    await rule.getByLabel("Threshold (matching entries)").fill("3");
    await rule.getByRole("button", { name: "Add rule" }).click();
    await expect(rule.getByRole("alert")).toContainText("window_seconds");
    await rule.getByLabel("Window (seconds)").fill("600");
    await rule.getByLabel("Group by").fill("actor");
    await rule.getByLabel("Minimum severity").selectOption("warning");
    await rule.getByLabel("Only on resource (id or name)").fill("kv-prod");
    await rule.getByLabel("Destinations (ids)").fill(destinationId);
    await rule.getByRole("button", { name: "Add rule" }).click();
    await expect(page.locator(".outcome.done")).toHaveText("Added alert rule Secret deletions (e2e).");
    const added = page.locator("table.alert-rules tbody tr", { hasText: "Secret deletions (e2e)" });
    await expect(added).toContainText("3 within 10 min per actor");
    await expect(added).toContainText("secret.deleted (≥ warning), on kv-prod");
    await expect(added.locator("td").nth(3)).toHaveText(destinationId);

    await page.goto("/audit?event_type=alert.rule.created");
    await hydrated(page);
    await expect(page.locator("table.entries tbody tr").first()).toContainText("Alert rule created by admin");

    // Removed again, so that delivery does not go on to a receiver about to close.
    await page.goto("/settings/integrations");
    await settingsHydrated(page);
    await row.getByRole("button", { name: "Remove splunk e2e" }).click();
    await row.getByRole("button", { name: "Confirm remove" }).click();
    await expect(page.locator(".outcome.done")).toHaveText("Removed destination splunk e2e.");
  } finally {
    hec.server.close();
  }
});
