// The demo-site suites on their own: pnpm exec vitest run --config test/demo/vitest.config.ts
// (starts the private Podman service and builds the offline images unless
// STEPWISE_TEST_PODMAN_SOCKET says scripts/test.sh already did).
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: new URL("../..", import.meta.url).pathname,
    include: ["test/demo/**/*.test.ts"],
    globalSetup: ["test/podman/podman-harness.ts"],
    testTimeout: 180_000,
    hookTimeout: 600_000,
    pool: "forks",
    // Two cores: two deploys at once is what the machine takes without health checks timing out.
    maxWorkers: 2,
  },
});
