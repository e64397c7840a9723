// `npm run test:faults`: the fault tests (docs/faults.md). Builds first (the tests start the
// compiled API and worker as real processes), then runs Vitest with test/faults/vitest.config.ts.
// Each test file starts its own PostgreSQL (embedded, .data/faults-*), Redis (AOF on, temp dir),
// API and worker on free ports, and kills and restarts them; nothing touches DATABASE_URL or
// REDIS_URL. Ends with one plain line, "Tests: N passed, N failed, N skipped", and the wall time
// (apps/dev/lib/run-suite.mjs).
import { runSuite } from './lib/run-suite.mjs';

runSuite({ config: 'test/faults/vitest.config.ts', name: 'vitest-faults', failOnSkipInCi: true });
