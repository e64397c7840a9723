// `npm run test:topology`: the topology test (docs/scaling.md). Builds first (it starts the compiled
// API and worker), then runs Vitest with test/scale/topology.config.ts: its own Redis Cluster (3 + 3),
// PgBouncer (transaction mode) and HAProxy on free loopback ports, two API processes behind HAProxy,
// two workers; the consistency flows, three faults and the capacity figures.
// Ends with one plain line, "Tests: N passed, N failed, N skipped (S s)" (apps/dev/lib/run-suite.mjs).
import { runSuite } from './lib/run-suite.mjs';

runSuite({ config: 'test/scale/topology.config.ts', name: 'vitest-topology' });
