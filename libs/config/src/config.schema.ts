import 'reflect-metadata';
import { Transform, Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, MinLength, ValidateIf } from 'class-validator';

export const NODE_ENVS = ['development', 'test', 'production'] as const;
export type NodeEnv = (typeof NODE_ENVS)[number];
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const isProduction = (o: AppConfig) => o.NODE_ENV === 'production';
const POSTGRES_URL = /^postgres(ql)?:\/\/\S+$/;
const REDIS_URL = /^rediss?:\/\/\S+$/;

/**
 * Every environment variable Benteng reads, validated once at start (`loadConfig`).
 * `.env.example` documents each one; test/integration/config.spec.ts keeps the two in step.
 * Error messages name the variable and the rule, never the value: a misplaced secret must not end
 * up in a crash log.
 */
export class AppConfig {
  @IsIn(NODE_ENVS, { message: 'must be one of development, test, production' })
  NODE_ENV: NodeEnv = 'development';

  /** Owner connection: runs migrations and seeds. The API and worker never need it in production. */
  @IsOptional()
  @Matches(POSTGRES_URL, { message: 'must be a postgres:// URL' })
  DATABASE_URL?: string;

  /** Runtime connection as the least-privileged role `benteng_app` (RLS applies to it). */
  @ValidateIf((o: AppConfig) => isProduction(o) || o.DATABASE_APP_URL !== undefined)
  @Matches(POSTGRES_URL, { message: 'must be a postgres:// URL (required when NODE_ENV=production)' })
  DATABASE_APP_URL?: string;

  /** Password `npm run db:migrate` gives the runtime role; in development a documented default. */
  @ValidateIf((o: AppConfig) => isProduction(o) || o.DATABASE_APP_PASSWORD !== undefined)
  @IsString()
  @MinLength(16, { message: 'must be at least 16 characters (required when NODE_ENV=production)' })
  DATABASE_APP_PASSWORD?: string;

  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be between 1 and 200' })
  @Max(200, { message: 'must be between 1 and 200' })
  DATABASE_POOL_MAX = 10;

  @Matches(REDIS_URL, { message: 'must be a redis:// or rediss:// URL' })
  REDIS_URL = 'redis://127.0.0.1:6379';

  @IsString()
  @Matches(/^[A-Za-z0-9.:\-[\]]+$/, { message: 'must be a host name or IP address' })
  HOST = '127.0.0.1';

  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be a TCP port (1-65535)' })
  @Max(65535, { message: 'must be a TCP port (1-65535)' })
  PORT = 3000;

  @IsIn(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` })
  LOG_LEVEL: (typeof LOG_LEVELS)[number] = 'info';

  /** Largest accepted request body for JSON routes, in bytes. */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(1024, { message: 'must be between 1024 and 104857600' })
  @Max(104_857_600, { message: 'must be between 1024 and 104857600' })
  BODY_LIMIT_BYTES = 1_048_576;

  /** Seconds the worker waits for running jobs on shutdown before it exits anyway. */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be between 1 and 600' })
  @Max(600, { message: 'must be between 1 and 600' })
  WORKER_SHUTDOWN_TIMEOUT_S = 30;

  /** Human-readable logs for local development (pino-pretty); JSON otherwise. */
  @Transform(({ value }) => value === true || value === 'true' || value === '1')
  LOG_PRETTY = false;
}

/** Every variable AppConfig reads; .env.example documents each (test: load-config.spec.ts). */
export const CONFIG_VARIABLES = [
  'NODE_ENV',
  'DATABASE_URL',
  'DATABASE_APP_URL',
  'DATABASE_APP_PASSWORD',
  'DATABASE_POOL_MAX',
  'REDIS_URL',
  'HOST',
  'PORT',
  'LOG_LEVEL',
  'LOG_PRETTY',
  'BODY_LIMIT_BYTES',
  'WORKER_SHUTDOWN_TIMEOUT_S',
] as const satisfies readonly (keyof AppConfig)[];

/** Read by the npm scripts and the seed, not by the API or worker. */
export const SCRIPT_VARIABLES = ['SEED_DEMO_PASSWORD', 'BENTENG_LOCAL_PG_PORT', 'BENTENG_TEST_PG_PORT'] as const;

/** Variables that hold credentials: named so tooling (docs, redaction tests) knows them. */
export const SECRET_VARIABLES = ['DATABASE_URL', 'DATABASE_APP_URL', 'DATABASE_APP_PASSWORD', 'REDIS_URL'] as const;
