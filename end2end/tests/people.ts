import { join } from "node:path";

/** The people scripts/e2e-server.sh creates, and where each one's signed-in browser state is kept. */
export const people = {
  admin: { username: "admin", password: "e2e admin passphrase 4417", state: join(__dirname, "..", ".data", "admin.json") },
  auditor: {
    username: "auditor",
    password: "e2e auditor passphrase 9023",
    state: join(__dirname, "..", ".data", "auditor.json"),
  },
};
