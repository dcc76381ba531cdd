import { defineConfig } from "@playwright/test";
import base from "./playwright.config";

// `make bench` only (scripts/bench-ui.sh starts the server): the Audit tab's speed at
// 1M entries. Not part of `make test`: it measures, it does not pass or fail on time.
export default defineConfig({
  ...base,
  testDir: "./bench",
  projects: undefined,
  webServer: undefined,
  timeout: 300_000,
  use: { ...base.use, baseURL: process.env.BENCH_UI_URL ?? "http://127.0.0.1:8095" },
});
