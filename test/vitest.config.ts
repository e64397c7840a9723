import { fileURLToPath } from 'node:url';
import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';

// Fault tests start their own PostgreSQL, Redis and processes: `npm run test:faults`.
export const exclude = ['**/node_modules/**', 'dist/**', 'test/faults/**'];

/** What every project shares: the specs run in forked processes, files in parallel and in any order. */
export const shared = {
  globals: true,
  pool: 'forks',
  testTimeout: 30_000,
  hookTimeout: 60_000,
  // Every file creates its own tenants, so files run in parallel and in any order.
  sequence: { shuffle: { files: true, tests: false } },
} satisfies TestProjectInlineConfiguration['test'];

/**
 * The projects that need PostgreSQL and Redis: one global setup (test/support/global-setup.ts) makes
 * one migrated test database for the whole run, whichever of these projects run, and every file
 * sees it through test/support/setup-env.ts.
 */
const withServices = (name: string, include: string[]): TestProjectInlineConfiguration => ({
  extends: true,
  test: {
    ...shared,
    name,
    include,
    exclude,
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/setup-env.ts'],
  },
});

/**
 * `npm test` runs every project once (each spec file belongs to exactly one);
 * `npm test -- --project unit` runs only the pure unit specs, without PostgreSQL, Redis or a build.
 */
export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  resolve: { tsconfigPaths: true },
  test: {
    projects: [
      {
        extends: true,
        test: {
          ...shared,
          name: 'unit',
          // Specs beside the code that need neither PostgreSQL nor Redis (none of them does today; one
          // that did would go to the integration project).
          include: ['libs/**/*.spec.ts', 'apps/**/*.spec.ts'],
          exclude,
          setupFiles: ['test/support/setup-unit.ts'],
        },
      },
      withServices('integration', ['test/integration/**/*.spec.ts']),
      withServices('e2e', ['test/e2e/**/*.spec.ts']),
      withServices('security', ['test/security/**/*.spec.ts']),
    ],
  },
});
