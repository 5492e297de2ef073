// The Azure suites with their servers started once: pnpm exec vitest run --config test/azure/vitest.config.ts
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: new URL("../..", import.meta.url).pathname,
    include: ["test/azure/**/*.test.ts"],
    globalSetup: ["test/azure/harness.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
