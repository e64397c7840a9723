import 'reflect-metadata';
import { inject } from 'vitest';

// Every test process sees the test database and quiet logs; loadConfig() then works as in prod.
process.env.NODE_ENV = 'test';
process.env.DATABASE_URL = inject('databaseUrl');
process.env.DATABASE_APP_URL = inject('appDatabaseUrl');
process.env.REDIS_URL = inject('redisUrl');
process.env.AUTH_SIGNING_KEYS = inject('signingKeys');
process.env.AUTH_TOKEN_PEPPER = inject('tokenPepper');
process.env.LOG_LEVEL ??= 'silent';
process.env.DATABASE_POOL_MAX ??= '5';
