// For running the Podman suites on their own: pnpm exec vitest run --config test/podman/vitest.config.ts
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: new URL("../..", import.meta.url).pathname,
    include: ["test/podman/**/*.test.ts"],
    globalSetup: ["test/podman/podman-harness.ts"],
    testTimeout: 120_000,
    hookTimeout: 600_000,
    pool: "forks",
  },
});
