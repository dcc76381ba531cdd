import { expect, test, type Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { hydrated } from "./support";

// The export dialog of the Audit tab: it summarises the filters and the count, and each
// format downloads a file with exactly the filtered rows (seed 1: 10 errors).


async function download(page: Page, format: RegExp): Promise<{ name: string; text: string; path: string }> {
  const dialog = page.getByRole("dialog", { name: "Export audit entries" });
  await dialog.getByRole("radio", { name: format }).check();
  const [file] = await Promise.all([page.waitForEvent("download"), dialog.getByRole("link", { name: "Download" }).click()]);
  const path = (await file.path())!;
  return { name: file.suggestedFilename(), text: readFileSync(path, "utf8"), path };
}

test("the export dialog downloads the filtered entries in each format", async ({ page }) => {
  await page.goto("/audit?severity=error");
  await hydrated(page);
  await page.getByRole("button", { name: "Export…" }).click();
  const dialog = page.getByRole("dialog", { name: "Export audit entries" });
  await expect(dialog).toContainText("Severity: error");
  await expect(dialog).toContainText("10 entries will be exported.");

  const csv = await download(page, /^CSV/);
  expect(csv.name).toMatch(/^certifyclouds-audit-start_\d{4}-\d\d-\d\d\.csv$/);
  const lines = csv.text.trimEnd().split("\r\n");
  expect(lines[0]).toBe(
    "id,timestamp,event_type,severity,actor_type,actor_id,actor_name,resource_type,resource_id,resource_name,description,details,ip_address,user_agent,received_at,ingested_by_id,ingested_by_name",
  );
  expect(lines.length).toBe(11);
  expect(lines.slice(1).every((l) => l.split(",")[3] === "error")).toBe(true);
  await expect(dialog.getByRole("status")).toHaveText(/Download started/);

  const json = JSON.parse((await download(page, /^JSON/)).text);
  expect(json).toHaveLength(10);
  expect(json.every((e: { severity: string }) => e.severity === "error")).toBe(true);
  // Oldest first, with the ids the table shows.
  const ids = await page.locator("table.entries tbody tr").evaluateAll((rows) => rows.map((r) => r.id));
  expect(json.map((e: { id: string }) => e.id).reverse()).toEqual(ids);

  const ndjson = (await download(page, /^NDJSON/)).text.trimEnd().split("\n");
  expect(ndjson.map((l) => JSON.parse(l).id)).toEqual(json.map((e: { id: string }) => e.id));

  // The PDF report, read back with poppler's pdftotext (installed by scripts/setup.sh test).
  const pdf = await download(page, /^PDF/);
  expect(pdf.name).toMatch(/^certifyclouds-audit-start_\d{4}-\d\d-\d\d\.pdf$/);
  expect(readFileSync(pdf.path).subarray(0, 5).toString()).toBe("%PDF-");
  const text = execFileSync("pdftotext", [pdf.path, "-"]).toString();
  expect(text).toContain("Severity: error");
  expect(text).toContain("Page 1 of 1");
  const words = new Set(text.split(/\s+/));
  expect(ids.every((id) => words.has(id))).toBe(true);
  expect(words.has("info")).toBe(false);
  await expect(dialog.getByRole("status")).toHaveText(/Preparing the PDF report/);

  await page.keyboard.press("Escape");
  await expect(dialog).toHaveCount(0);
});
