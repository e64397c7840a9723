// `npm run test:scale`: the scale tests (docs/scaling.md). Builds first (exports and worker specs
// start the compiled worker), then runs Vitest with test/scale/vitest.config.ts, whose global setup
// makes the run's test database as `npm test` does (DATABASE_URL, or the embedded PostgreSQL) and
// starts a real Redis Cluster (Debian redis-server, 3 masters + 3 replicas, `redis-cli --cluster
// create`) and PgBouncer 1.18 in transaction mode on free loopback ports. Every spec then uses the
// cluster (REDIS_CLUSTER_NODES) and reaches PostgreSQL as the runtime role through PgBouncer.
// Ends with one plain line, "Tests: N passed, N failed, N skipped", and the wall time
// (apps/dev/lib/run-suite.mjs).
import { runSuite } from './lib/run-suite.mjs';

runSuite({ config: 'test/scale/vitest.config.ts', name: 'vitest-scale' });
