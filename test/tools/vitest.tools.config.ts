import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/** Instruments that are not tests (docs/architecture.md, "Two requests, file by file"): run on demand. */
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  resolve: { tsconfigPaths: true },
  test: {
    include: ['test/tools/**/*.trace.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/setup-env.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
