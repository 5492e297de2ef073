import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: "forks",
    fileParallelism: true,
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["packages/*/src/**/*.test.ts", "apps/*/src/**/*.test.ts", "test/**/*.test.ts"],
          exclude: ["**/node_modules/**", "**/.git/**", "test/podman/**", "test/demo/**", "test/azure/**", "test/azblob/**"],
        },
      },
      {
        extends: true,
        test: {
          name: "podman",
          include: ["test/podman/**/*.test.ts", "test/demo/**/*.test.ts"],
          // Runs only when a file of this project is selected; a no-op when scripts/test.sh
          // already started the service (STEPWISE_TEST_PODMAN_SOCKET).
          globalSetup: ["test/podman/podman-harness.ts"],
          testTimeout: 180_000,
          hookTimeout: 600_000,
        },
      },
      {
        extends: true,
        test: {
          name: "azure",
          include: ["test/azure/**/*.test.ts"],
          // The local ARM server and managed-identity token endpoint, started once per run.
          globalSetup: ["test/azure/harness.ts"],
        },
      },
      {
        extends: true,
        test: {
          name: "azblob",
          include: ["test/azblob/**/*.test.ts"],
          // Azurite (HTTP, and HTTPS with OAuth) and a managed-identity endpoint, started once per run.
          globalSetup: ["test/azblob/harness.ts"],
        },
      },
    ],
  },
});
