import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["**/*.test.ts"],
    exclude: ["node_modules/**", "dist/**"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // end-to-end suites start real processes and bind ports; run files one at a time on 2 cores
    fileParallelism: false,
    reporters: ["default"],
  },
});
