import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { exclude, shared } from './vitest.config.js';

/**
 * The Vitest project StrykerJS runs for `npm run test:mutation` (stryker.config.mjs, docs/mutation.md).
 * Same database, Redis and setup as the integration project of test/vitest.config.ts, but only the
 * specs that reach the mutated code in-process: Stryker sees only mutants executed inside its own
 * Vitest worker, so the specs that start the compiled API or worker as a process (dist/) can never
 * kill one, and the slow end-to-end files would multiply the wall time by the number of mutants they cover.
 */
export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  resolve: { tsconfigPaths: true },
  test: {
    ...shared,
    include: ['libs/**/*.spec.ts', 'apps/**/*.spec.ts', 'test/integration/**/*.spec.ts'],
    // The module-boundary and production-dependency specs read the sources as text, and in the
    // sandbox those are Stryker's instrumented copies (a `target: 'pino-pretty'` becomes a mutant
    // switch); the projects spec runs the unit project as its own process, which mutants in this
    // worker never reach.
    exclude: [...exclude, 'test/integration/boundaries.spec.ts', 'test/integration/production-dependencies.spec.ts', 'test/integration/unit-project.spec.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/setup-env.ts'],
    // Stryker runs one file at a time; a stable order makes two runs comparable.
    sequence: { shuffle: { files: false, tests: false } },
  },
});
