import { inject } from 'vitest';
import { prepareTestProcess } from './test-process.js';

// Every test process of the projects with services (test/vitest.config.ts) sees the test database
// the global setup made, and the run's keys; loadConfig() then works as in prod.
process.env.DATABASE_URL = inject('databaseUrl');
process.env.DATABASE_APP_URL = inject('appDatabaseUrl');
process.env.DATABASE_INTERNAL_URL = inject('internalDatabaseUrl');
process.env.REDIS_URL = inject('redisUrl');
process.env.AUTH_SIGNING_KEYS = inject('signingKeys');
process.env.AUTH_TOKEN_PEPPER = inject('tokenPepper');
prepareTestProcess();
