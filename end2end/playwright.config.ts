import { defineConfig } from "@playwright/test";
import { people } from "./tests/people";

// Debian's Chromium, never a downloaded browser; the networking flags keep Chromium from
// reaching out to the internet, which this machine refuses.
const port = Number(process.env.E2E_PORT ?? 8089);

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: [["list"]],
  // The admin and the auditor sign in first (tests/auth.setup.ts); the other tests start
  // signed in as the admin. Tests that add entries (live updates; exports and sign-ins,
  // which are audited) run last, so that every other test sees the same entries.
  projects: [
    { name: "setup", testMatch: /auth\.setup\.ts/ },
    {
      name: "read",
      testIgnore: /(live|export|login|admin|integrity|settings|integrations)\.spec\.ts/,
      dependencies: ["setup"],
      use: { storageState: people.admin.state },
    },
    {
      name: "write",
      testMatch: /(live|export|login|admin|integrity|settings|integrations)\.spec\.ts/,
      dependencies: ["read"],
      use: { storageState: people.admin.state },
    },
  ],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  webServer: {
    command: "bash ../scripts/e2e-server.sh",
    url: `http://127.0.0.1:${port}/healthz`,
    env: { E2E_PORT: String(port) },
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "ignore",
    stderr: "pipe",
  },
});
