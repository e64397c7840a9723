// @ts-check
/**
 * Mutation testing of the security-critical code: `npm run test:mutation` (docs/mutation.md).
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
const config = {
  testRunner: 'vitest',
  vitest: { configFile: 'test/vitest.mutation.config.ts', pool: 'forks', related: true },
  checkers: ['typescript'],
  tsconfigFile: 'stryker/tsconfig.mutation.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  coverageAnalysis: 'perTest',
  ignoreStatic: true,
  incremental: true,
  incrementalFile: 'stryker/incremental.json',
  concurrency: 1,
  // The security-critical code (docs/mutation.md has the score per file and per control). Barrel
  // files (index.ts) only re-export; Nest module files only wire providers; CLIs only parse argv.
  // main.ts is left out: it only calls app.factory.ts's bootstrap, and what it does is proven by
  // test/security/production-entry.spec.ts against the compiled process, which Stryker cannot
  // mutate (docs/mutation.md, "Scope").
  mutate: [
    // Authorization (CASL abilities and rules) and tenancy.
    'libs/authz/src/**/*.ts',
    'libs/tenancy/src/**/*.ts',
    'libs/database/src/tenant-database.ts',
    // Signed jobs, the payment webhook verifier, webhook signing, secret box and egress use.
    'libs/jobs/src/job-envelope.ts',
    'libs/jobs/src/job-signer.ts',
    'libs/payments/src/payment-webhook.verifier.ts',
    'libs/webhooks/src/webhook-signer.ts',
    'libs/webhooks/src/webhook-secret-box.ts',
    'libs/webhooks/src/webhook-delivery.service.ts',
    // Authentication: credentials, strategies, revocation, login, refresh, sessions, password,
    // profile, tenant switch, partner auth, key rotation.
    'libs/auth/src/**/*.ts',
    // Client address trust, rate limits, abuse detection, blocks, SSRF-safe client, service signatures.
    'libs/security/src/**/*.ts',
    // The HTTP layer: the gate and its stages, validation, problem+json, headers, inventory, uploads.
    'apps/api/src/http/**/*.ts',
    // Request logging and the secret censor it uses.
    'apps/api/src/logging/logging.ts',
    'libs/common/src/redaction.ts',
    '!**/*.spec.ts',
    '!**/index.ts',
    '!**/*.module.ts',
    '!**/*.cli.ts',
  ],
  // dist/ is copied into the sandbox: a few integration specs (data-reencryption, keys-rotate-env) also run a
  // compiled CLI from it, which no mutant reaches but which must exist for the initial test run to pass.
  ignorePatterns: ['.data', 'node_modules', 'bench/results', 'coverage', 'reports', '.tools'],
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  timeoutMS: 10_000,
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
export default config;
