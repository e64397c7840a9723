import { inject } from 'vitest';

// After test/support/setup-env.ts: every app, worker and client a scale spec starts uses the Redis
// Cluster (REDIS_CLUSTER_NODES; REDIS_URL stays set, as in production, for the nodes' credentials)
// and reaches PostgreSQL as the runtime role through PgBouncer in transaction mode. DATABASE_URL
// (owner: migrations, seeds, test arrangements) stays direct, as docs/scaling.md prescribes.
process.env.REDIS_CLUSTER_NODES = inject('redisClusterNodes');
process.env.DATABASE_APP_URL = inject('pgbouncerAppUrl');
