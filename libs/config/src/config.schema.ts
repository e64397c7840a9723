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
 * `.env.example` documents each one; libs/config/src/load-config.spec.ts keeps the two in step.
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

  /**
   * The internal listener's connection as `benteng_internal`, the only role that may execute the
   * operator functions. Required by the API in production (checked at start, internalDatabaseUrl);
   * the worker never needs it. Outside production derived from DATABASE_URL.
   */
  @ValidateIf((o: AppConfig) => o.DATABASE_INTERNAL_URL !== undefined)
  @Matches(POSTGRES_URL, { message: 'must be a postgres:// URL (required by the API when NODE_ENV=production)' })
  DATABASE_INTERNAL_URL?: string;

  /** Password `npm run db:migrate` gives benteng_internal (required by it in production); in development a documented default. */
  @ValidateIf((o: AppConfig) => o.DATABASE_INTERNAL_PASSWORD !== undefined)
  @IsString()
  @MinLength(16, { message: 'must be at least 16 characters (required by db:migrate when NODE_ENV=production)' })
  DATABASE_INTERNAL_PASSWORD?: string;

  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be between 1 and 200' })
  @Max(200, { message: 'must be between 1 and 200' })
  DATABASE_POOL_MAX = 10;

  @Matches(REDIS_URL, { message: 'must be a redis:// or rediss:// URL' })
  REDIS_URL = 'redis://127.0.0.1:6379';

  /**
   * Redis Cluster mode: comma-separated `host:port` seed nodes (a few masters are enough; the
   * client discovers the rest). Unset: one Redis at REDIS_URL. Set: libs/redis connects an ioredis
   * Cluster, keys carry hash tags and BullMQ's prefix becomes `{QUEUE_PREFIX}`; REDIS_URL then only
   * gives the user, password and TLS (rediss://) of every node, its host is not used.
   */
  @IsOptional()
  @Matches(/^[A-Za-z0-9.-]+:\d{1,5}(,[A-Za-z0-9.-]+:\d{1,5})*$/, { message: 'must be comma-separated host:port seed nodes' })
  REDIS_CLUSTER_NODES?: string;

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

  /**
   * Largest document a user may upload (/v1/documents), in bytes. The upload is held in memory
   * while its type is checked and is stored in PostgreSQL by default, hence the 50 MiB ceiling.
   */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(1024, { message: 'must be between 1024 and 52428800' })
  @Max(52_428_800, { message: 'must be between 1024 and 52428800' })
  DOCUMENTS_MAX_BYTES = 10_485_760;

  /** Seconds the worker waits for running jobs on shutdown before it exits anyway. */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be between 1 and 600' })
  @Max(600, { message: 'must be between 1 and 600' })
  WORKER_SHUTDOWN_TIMEOUT_S = 30;

  /** `iss` of every token Benteng signs, and the issuer it accepts. */
  @IsString()
  @Matches(/^[\x21-\x7e]{1,200}$/, { message: 'must be 1-200 visible ASCII characters' })
  AUTH_ISSUER = 'benteng';

  /**
   * The absolute origin clients reach this API at (scheme, host, port; no path), e.g.
   * https://api.example.com. The issuer identifier of the partner surface's OAuth metadata
   * (GET /.well-known/oauth-authorization-server, RFC 8414) and the base of the endpoint URLs it
   * lists. Taken from configuration, never from the request's Host header, which a client chooses
   * and the metadata is cached publicly. Unset: http://127.0.0.1:PORT (development).
   */
  @IsOptional()
  @Matches(/^https?:\/\/[A-Za-z0-9.\-[\]:]+$/, { message: 'must be an http(s) origin without path, e.g. https://api.example.com' })
  PUBLIC_BASE_URL?: string;

  /**
   * Signing keys of access tokens: a JSON array of private JWKs (Ed25519 `OKP` or P-256 `EC`, each
   * with a unique `kid`). The first signs; the others only verify, so a retired key keeps
   * verifying until its last token has expired (rotation with overlap). Required in production;
   * elsewhere each process generates an ephemeral key when unset.
   */
  @ValidateIf((o: AppConfig) => isProduction(o) || o.AUTH_SIGNING_KEYS !== undefined)
  @IsString({ message: 'must be a JSON array of private JWKs (required when NODE_ENV=production)' })
  @MinLength(2, { message: 'must be a JSON array of private JWKs (required when NODE_ENV=production)' })
  AUTH_SIGNING_KEYS?: string;

  /**
   * Key of the HMAC that refresh tokens are stored under (a stolen database alone cannot be used
   * to test guesses). At least 32 characters; required in production.
   */
  @ValidateIf((o: AppConfig) => isProduction(o) || o.AUTH_TOKEN_PEPPER !== undefined)
  @IsString()
  @MinLength(32, { message: 'must be at least 32 characters (required when NODE_ENV=production)' })
  AUTH_TOKEN_PEPPER?: string;

  /** Access token lifetime in seconds; at most 15 minutes (docs/architecture.md, invariant 9). */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(30, { message: 'must be between 30 and 900' })
  @Max(900, { message: 'must be between 30 and 900' })
  ACCESS_TOKEN_TTL_S = 600;

  /** Refresh token lifetime in seconds (each rotation issues a new one). */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(300, { message: 'must be between 300 and 7776000' })
  @Max(7_776_000, { message: 'must be between 300 and 7776000' })
  REFRESH_TOKEN_TTL_S = 1_209_600;

  /** Absolute lifetime of a login session, however often it is refreshed. */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(300, { message: 'must be between 300 and 31536000' })
  @Max(31_536_000, { message: 'must be between 300 and 31536000' })
  SESSION_MAX_AGE_S = 2_592_000;

  /**
   * Proxies whose X-Forwarded-For is believed, as a comma-separated list of IPs or CIDRs (e.g.
   * "10.0.0.0/8,127.0.0.1"). Empty: the socket address is the client, whatever headers say.
   */
  @Matches(/^$|^[0-9a-fA-F:./]+(,[0-9a-fA-F:./]+)*$/, { message: 'must be a comma-separated list of IP addresses or CIDR ranges' })
  TRUSTED_PROXIES = '';

  /**
   * Failed logins per account from one client address (IPv6: one /64) within LOGIN_WINDOW_S before
   * that account is throttled at that address only: the guesser is slowed, the owner elsewhere is not.
   */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be between 1 and 1000' })
  @Max(1000, { message: 'must be between 1 and 1000' })
  LOGIN_MAX_FAILURES_PER_ACCOUNT_IP = 10;

  /**
   * Failed logins per account from all addresses together within LOGIN_WINDOW_S before the account
   * is throttled everywhere except at addresses it recently signed in from (distributed guessing).
   * Keep it above LOGIN_MAX_FAILURES_PER_ACCOUNT_IP, so one address alone cannot reach it.
   */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be between 1 and 1000' })
  @Max(1000, { message: 'must be between 1 and 1000' })
  LOGIN_MAX_FAILURES_PER_ACCOUNT = 50;

  /**
   * Failed logins per client IP (any account) within LOGIN_WINDOW_S before the IP is throttled
   * (spraying), for every account except those that recently signed in from it.
   */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be between 1 and 100000' })
  @Max(100_000, { message: 'must be between 1 and 100000' })
  LOGIN_MAX_FAILURES_PER_IP = 100;

  /** Window of the login failure counters, in seconds; blocks grow progressively from it. */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(10, { message: 'must be between 10 and 86400' })
  @Max(86_400, { message: 'must be between 10 and 86400' })
  LOGIN_WINDOW_S = 900;

  /**
   * Which partner API keys and clients this deployment accepts: `live` or `test`. A key or client
   * of the other environment is refused. Default: `live` in production, `test` elsewhere.
   */
  @IsOptional()
  @IsIn(['live', 'test'], { message: 'must be live or test' })
  PARTNER_ENVIRONMENT?: 'live' | 'test';

  /** Lifetime of partner access tokens from POST /partner/oauth/token, seconds (at most 10 minutes). */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(30, { message: 'must be between 30 and 600' })
  @Max(600, { message: 'must be between 30 and 600' })
  PARTNER_TOKEN_TTL_S = 600;

  /** How long a rotated partner API key keeps working beside its replacement, seconds. */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(0, { message: 'must be between 0 and 2592000' })
  @Max(2_592_000, { message: 'must be between 0 and 2592000' })
  PARTNER_KEY_ROTATION_OVERLAP_S = 86_400;

  /**
   * How far the `created` time of a partner request's RFC 9421 signature may lie from the server's
   * clock, either way, seconds; nonces are remembered for twice as long (docs/request-signing.md).
   */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(10, { message: 'must be between 10 and 900' })
  @Max(900, { message: 'must be between 10 and 900' })
  PARTNER_SIGNATURE_TOLERANCE_S = 300;

  /**
   * Overrides of the rate-limit policy table (libs/security/src/rate-limit-policy.ts), as JSON:
   * {"<principal class>": {"<sensitivity>": [requests, windowSeconds]}, "tenant": [requests, windowSeconds]}.
   * Classes: anonymous, user, partner:free, partner:standard, partner:premium, operator.
   * Sensitivities: auth, write, read, search, export. Unset: the defaults.
   */
  @IsOptional()
  @IsString({ message: 'must be a JSON object' })
  RATE_LIMIT_POLICY?: string;

  /** Sliding window of the abuse detector's counters, seconds. */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(10, { message: 'must be between 10 and 3600' })
  @Max(3600, { message: 'must be between 10 and 3600' })
  ABUSE_WINDOW_S = 60;

  /** 404s on object routes per principal or IP within ABUSE_WINDOW_S before a block (id enumeration). */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be between 1 and 1000000' })
  @Max(1_000_000, { message: 'must be between 1 and 1000000' })
  ABUSE_MAX_NOT_FOUND = 20;

  /** 401/403 answers per principal or IP within ABUSE_WINDOW_S before a block. */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be between 1 and 1000000' })
  @Max(1_000_000, { message: 'must be between 1 and 1000000' })
  ABUSE_MAX_AUTH_FAILURES = 30;

  /** Distinct objects read per principal within ABUSE_WINDOW_S before a block (scraping). */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be between 1 and 1000000' })
  @Max(1_000_000, { message: 'must be between 1 and 1000000' })
  ABUSE_MAX_DISTINCT_OBJECTS = 300;

  /** Requests per principal or IP within ABUSE_BURST_WINDOW_S before a block (bursts). */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be between 1 and 1000000' })
  @Max(1_000_000, { message: 'must be between 1 and 1000000' })
  ABUSE_MAX_BURST = 200;

  /** Window of the burst counter, seconds. */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be between 1 and 60' })
  @Max(60, { message: 'must be between 1 and 60' })
  ABUSE_BURST_WINDOW_S = 5;

  /** How long a block placed by the abuse detector lasts, seconds. */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(10, { message: 'must be between 10 and 86400' })
  @Max(86_400, { message: 'must be between 10 and 86400' })
  ABUSE_BLOCK_S = 900;

  /**
   * Keys of the HMAC that signs job envelopes (docs/architecture.md, invariant 7), as
   * "kid:secret,kid:secret" (secrets >= 32 characters). The first signs; every one verifies, so a
   * retired key keeps verifying jobs already queued. Required in production; elsewhere derived
   * from AUTH_TOKEN_PEPPER when unset.
   */
  @ValidateIf((o: AppConfig) => isProduction(o) || o.JOB_SIGNING_KEYS !== undefined)
  @Matches(/^[A-Za-z0-9_-]{1,32}:[\x21-\x2b\x2d-\x7e]{32,}(,[A-Za-z0-9_-]{1,32}:[\x21-\x2b\x2d-\x7e]{32,})*$/, {
    message: 'must be "kid:secret" pairs separated by commas, secrets of at least 32 characters (required when NODE_ENV=production)',
  })
  JOB_SIGNING_KEYS?: string;

  /**
   * AES-256-GCM keys that encrypt stored secrets (webhook signing secrets), as
   * "kid:<32 bytes in base64>,...". The first encrypts; every one decrypts. Required in
   * production; elsewhere derived from AUTH_TOKEN_PEPPER when unset.
   */
  @ValidateIf((o: AppConfig) => isProduction(o) || o.DATA_ENCRYPTION_KEYS !== undefined)
  @Matches(/^[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/]{43}=(,[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/]{43}=)*$/, {
    message: 'must be "kid:<32 bytes base64>" pairs separated by commas (required when NODE_ENV=production)',
  })
  DATA_ENCRYPTION_KEYS?: string;

  /**
   * Root keys of the key ring (docs/operations.md, "Key rotation"): AES-256-GCM keys that encrypt
   * the keys the processes rotate themselves (stored in the `key_ring` table), as
   * "kid:<32 bytes in base64>,...". The first encrypts; every one decrypts. Unset: no key ring
   * (access tokens are signed with AUTH_SIGNING_KEYS only and `npm run keys:rotate` refuses).
   */
  @ValidateIf((o: AppConfig) => o.KEY_RING_ROOT_KEYS !== undefined)
  @Matches(/^[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/]{43}=(,[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/]{43}=)*$/, {
    message: 'must be "kid:<32 bytes base64>" pairs separated by commas',
  })
  KEY_RING_ROOT_KEYS?: string;

  /**
   * Key-age policy of the access-token signing keys, seconds (default 30 days): the scheduled
   * rotation replaces the active key once it is this old, and `benteng_key_age_seconds` is
   * exported beside it as `benteng_key_max_age_seconds`.
   */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(600, { message: 'must be between 600 and 31536000' })
  @Max(31_536_000, { message: 'must be between 600 and 31536000' })
  ACCESS_TOKEN_KEY_MAX_AGE_S = 2_592_000;

  /**
   * Key-age policy of the job-envelope HMAC keys of the key ring, seconds (default 30 days): the
   * scheduled rotation (platform job `platform.key-rotation`) replaces the ring's active
   * `job-envelope` key once it is this old; exported as `benteng_key_max_age_seconds{family="job-envelope"}`.
   */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(600, { message: 'must be between 600 and 31536000' })
  @Max(31_536_000, { message: 'must be between 600 and 31536000' })
  JOB_ENVELOPE_KEY_MAX_AGE_S = 2_592_000;

  /**
   * Key-age policy of INTERNAL_SERVICE_KEYS, seconds (default 90 days). Those keys are held by the
   * internal callers, so they are rotated by deploying, not by the processes: this is the threshold
   * exported as `benteng_key_max_age_seconds{family="internal-signature"}` beside the age of the
   * oldest caller's newest key (read from its `kYYYYMMDD-…` kid) for the alert.
   */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(600, { message: 'must be between 600 and 315360000' })
  @Max(315_360_000, { message: 'must be between 600 and 315360000' })
  INTERNAL_SIGNATURE_KEY_MAX_AGE_S = 7_776_000;

  /**
   * Key-age policy of DATA_ENCRYPTION_KEYS, seconds (default 365 days): exported as
   * `benteng_key_max_age_seconds{family="data-encryption"}` beside the active key's age (read from
   * its `kYYYYMMDD-…` kid) for the alert; the key is rotated by deploying, then re-encrypting.
   */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(600, { message: 'must be between 600 and 315360000' })
  @Max(315_360_000, { message: 'must be between 600 and 315360000' })
  DATA_ENCRYPTION_KEY_MAX_AGE_S = 31_536_000;

  /**
   * How long a new key is published (JWKS, every process's key ring) before it signs, seconds.
   * Keep it above KEY_RING_REFRESH_S plus the JWKS cache lifetime (300 s), so every verifier knows
   * a key before the first token signed with it arrives.
   */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(0, { message: 'must be between 0 and 604800' })
  @Max(604_800, { message: 'must be between 0 and 604800' })
  KEY_PUBLISH_LEAD_S = 900;

  /** How often each process reloads the key ring, seconds (and at once on a token with an unknown kid, at most once a second). */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be between 1 and 3600' })
  @Max(3600, { message: 'must be between 1 and 3600' })
  KEY_RING_REFRESH_S = 60;

  /** Interval of the scheduled key rotation check (platform job `platform.key-rotation`) and of the data re-encryption check (`platform.data-reencryption`), seconds. */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(5, { message: 'must be between 5 and 86400' })
  @Max(86_400, { message: 'must be between 5 and 86400' })
  KEY_ROTATION_CHECK_INTERVAL_S = 3600;

  /** How long a finished export's file is kept before the cleanup job deletes it, seconds. */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(60, { message: 'must be between 60 and 2592000' })
  @Max(2_592_000, { message: 'must be between 60 and 2592000' })
  EXPORT_TTL_S = 86_400;

  /** Lifetime of a signed export download URL, seconds (at most 5 minutes). */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(10, { message: 'must be between 10 and 300' })
  @Max(300, { message: 'must be between 10 and 300' })
  EXPORT_URL_TTL_S = 300;

  /** How long an invitation to a tenant can be accepted, seconds (default 7 days, at most 30). */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(300, { message: 'must be between 300 and 2592000' })
  @Max(2_592_000, { message: 'must be between 300 and 2592000' })
  INVITATION_TTL_S = 604_800;

  /**
   * Delay before each webhook delivery attempt, seconds, comma-separated: the first is the
   * initial attempt (0 = at once). Default as Svix: at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
   */
  @Matches(/^\d{1,6}(,\d{1,6}){0,19}$/, { message: 'must be 1-20 comma-separated whole numbers of seconds' })
  WEBHOOK_RETRY_SCHEDULE_S = '0,5,300,1800,7200,18000,36000,36000';

  /** Connect + response timeout of one webhook attempt, milliseconds. */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(100, { message: 'must be between 100 and 60000' })
  @Max(60_000, { message: 'must be between 100 and 60000' })
  WEBHOOK_TIMEOUT_MS = 10_000;

  /** Most response bytes read from a webhook receiver (the rest is discarded), bytes. */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(256, { message: 'must be between 256 and 1048576' })
  @Max(1_048_576, { message: 'must be between 256 and 1048576' })
  WEBHOOK_RESPONSE_MAX_BYTES = 65_536;

  /** An endpoint failing without a success for this long is disabled, seconds (default 5 days). */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be between 1 and 2592000' })
  @Max(2_592_000, { message: 'must be between 1 and 2592000' })
  WEBHOOK_DISABLE_AFTER_S = 432_000;

  /** How long a rotated webhook secret keeps signing beside the new one, seconds. */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(0, { message: 'must be between 0 and 604800' })
  @Max(604_800, { message: 'must be between 0 and 604800' })
  WEBHOOK_SECRET_ROTATION_OVERLAP_S = 86_400;

  /**
   * Private addresses outbound webhooks may reach anyway, as comma-separated CIDRs (for a local
   * receiver in development and tests). Refused in production, where egress reaches public
   * HTTPS addresses only.
   */
  @ValidateIf((o: AppConfig) => isProduction(o))
  @Matches(/^$/, { message: 'must be empty in production (egress to private addresses is never allowed there)' })
  EGRESS_ALLOW_PRIVATE = '';

  /**
   * Signing secret of the simulated payment provider's webhooks (Standard Webhooks, "whsec_<base64>").
   * Unset: POST /webhooks/inbound/payments answers 503.
   */
  @IsOptional()
  @Matches(/^whsec_[A-Za-z0-9+/]{32,}={0,2}$/, { message: 'must be a Standard Webhooks secret (whsec_ followed by base64)' })
  PAYMENTS_WEBHOOK_SECRET?: string;

  /** Interval of the platform cleanup job (expired exports, sessions, idempotency keys), seconds. */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(5, { message: 'must be between 5 and 86400' })
  @Max(86_400, { message: 'must be between 5 and 86400' })
  PLATFORM_CLEANUP_INTERVAL_S = 600;

  /** Interval of the export sweeper (`exports.sweep`: re-queues queued exports whose job was lost), seconds. */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(5, { message: 'must be between 5 and 86400' })
  @Max(86_400, { message: 'must be between 5 and 86400' })
  EXPORT_SWEEP_INTERVAL_S = 60;

  /** Days an ended (expired or revoked) session and its refresh tokens are kept before the retention job deletes them (prisma/retention.ts). */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be between 1 and 3650' })
  @Max(3650, { message: 'must be between 1 and 3650' })
  RETENTION_SESSIONS_DAYS = 30;

  /** Days a finished export record is kept past its expiry (its file goes at expiry) before the retention job deletes it. */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be between 1 and 3650' })
  @Max(3650, { message: 'must be between 1 and 3650' })
  RETENTION_EXPORTS_DAYS = 30;

  /** Days finished webhook deliveries and their attempt log are kept. */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be between 1 and 3650' })
  @Max(3650, { message: 'must be between 1 and 3650' })
  RETENTION_WEBHOOK_LOG_DAYS = 30;

  /** Days an ended (accepted, revoked or expired) invitation, with the invitee's email, is kept. */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be between 1 and 3650' })
  @Max(3650, { message: 'must be between 1 and 3650' })
  RETENTION_INVITATIONS_DAYS = 90;

  /** Days an ended abuse block is kept (it names a principal and an address). */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be between 1 and 3650' })
  @Max(3650, { message: 'must be between 1 and 3650' })
  RETENTION_SECURITY_BLOCKS_DAYS = 180;

  /** Days an access record (who read or changed which personal-data record; breach scoping reads them) is kept. */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be between 1 and 3650' })
  @Max(3650, { message: 'must be between 1 and 3650' })
  RETENTION_ACCESS_RECORDS_DAYS = 365;

  /** Days a published outbox event (a copy of the record it describes) is kept. */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be between 1 and 3650' })
  @Max(3650, { message: 'must be between 1 and 3650' })
  RETENTION_DOMAIN_EVENTS_DAYS = 30;

  /**
   * Whether this worker relays the outbox to webhook deliveries and sweeps lost deliveries. On in
   * every real deployment; the test suite turns it off for every worker but the webhook tests' own,
   * because all test files share one database.
   */
  @Transform(({ value }) => (value === undefined ? true : value === true || value === 'true' || value === '1'))
  OUTBOX_RELAY_ENABLED = true;

  /** How often the outbox relay looks for new domain events, milliseconds. */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(50, { message: 'must be between 50 and 60000' })
  @Max(60_000, { message: 'must be between 50 and 60000' })
  OUTBOX_POLL_INTERVAL_MS = 500;

  /**
   * Prefix of every BullMQ key in Redis. API and worker must agree; separate deployments (or test
   * runs) sharing one Redis use separate prefixes.
   */
  @Matches(/^[a-z][a-z0-9_-]{0,39}$/, { message: 'must be 1-40 lowercase letters, digits, - or _, starting with a letter' })
  QUEUE_PREFIX = 'benteng';

  /**
   * Address of the internal listener (/internal/v1: operators and services). Loopback by default:
   * it is never put behind the public ingress (docs/architecture.md, "Trust boundaries").
   */
  @IsString()
  @Matches(/^[A-Za-z0-9.:\-[\]]+$/, { message: 'must be a host name or IP address' })
  INTERNAL_HOST = '127.0.0.1';

  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be a TCP port (1-65535)' })
  @Max(65535, { message: 'must be a TCP port (1-65535)' })
  INTERNAL_PORT = 3001;

  /**
   * HMAC keys of the internal callers (service clients), as "service:kid:secret,..." (secrets of
   * at least 32 characters). Several kids for one service are accepted side by side (rotation
   * with overlap: add the new key, move the caller, remove the old one). Required in production;
   * elsewhere the service `ops-cli` gets the kid `derived`, derived from AUTH_TOKEN_PEPPER.
   */
  @ValidateIf((o: AppConfig) => isProduction(o) || o.INTERNAL_SERVICE_KEYS !== undefined)
  @Matches(/^[a-z][a-z0-9-]{0,31}:[A-Za-z0-9_-]{1,32}:[\x21-\x2b\x2d-\x7e]{32,}(,[a-z][a-z0-9-]{0,31}:[A-Za-z0-9_-]{1,32}:[\x21-\x2b\x2d-\x7e]{32,})*$/, {
    message: 'must be "service:kid:secret" triples separated by commas, secrets of at least 32 characters (required when NODE_ENV=production)',
  })
  INTERNAL_SERVICE_KEYS?: string;

  /** How far a signed internal request's timestamp may be from the server's clock, seconds. */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer' })
  @Min(10, { message: 'must be between 10 and 900' })
  @Max(900, { message: 'must be between 10 and 900' })
  INTERNAL_SIGNATURE_TOLERANCE_S = 300;

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
  'DATABASE_INTERNAL_URL',
  'DATABASE_INTERNAL_PASSWORD',
  'DATABASE_POOL_MAX',
  'REDIS_URL',
  'REDIS_CLUSTER_NODES',
  'HOST',
  'PORT',
  'LOG_LEVEL',
  'LOG_PRETTY',
  'BODY_LIMIT_BYTES',
  'DOCUMENTS_MAX_BYTES',
  'WORKER_SHUTDOWN_TIMEOUT_S',
  'AUTH_ISSUER',
  'PUBLIC_BASE_URL',
  'AUTH_SIGNING_KEYS',
  'AUTH_TOKEN_PEPPER',
  'ACCESS_TOKEN_TTL_S',
  'REFRESH_TOKEN_TTL_S',
  'SESSION_MAX_AGE_S',
  'TRUSTED_PROXIES',
  'LOGIN_MAX_FAILURES_PER_ACCOUNT',
  'LOGIN_MAX_FAILURES_PER_ACCOUNT_IP',
  'LOGIN_MAX_FAILURES_PER_IP',
  'LOGIN_WINDOW_S',
  'PARTNER_ENVIRONMENT',
  'PARTNER_TOKEN_TTL_S',
  'PARTNER_KEY_ROTATION_OVERLAP_S',
  'PARTNER_SIGNATURE_TOLERANCE_S',
  'RATE_LIMIT_POLICY',
  'ABUSE_WINDOW_S',
  'ABUSE_MAX_NOT_FOUND',
  'ABUSE_MAX_AUTH_FAILURES',
  'ABUSE_MAX_DISTINCT_OBJECTS',
  'ABUSE_MAX_BURST',
  'ABUSE_BURST_WINDOW_S',
  'ABUSE_BLOCK_S',
  'JOB_SIGNING_KEYS',
  'DATA_ENCRYPTION_KEYS',
  'KEY_RING_ROOT_KEYS',
  'ACCESS_TOKEN_KEY_MAX_AGE_S',
  'JOB_ENVELOPE_KEY_MAX_AGE_S',
  'INTERNAL_SIGNATURE_KEY_MAX_AGE_S',
  'DATA_ENCRYPTION_KEY_MAX_AGE_S',
  'KEY_PUBLISH_LEAD_S',
  'KEY_RING_REFRESH_S',
  'KEY_ROTATION_CHECK_INTERVAL_S',
  'EXPORT_TTL_S',
  'EXPORT_URL_TTL_S',
  'INVITATION_TTL_S',
  'WEBHOOK_RETRY_SCHEDULE_S',
  'WEBHOOK_TIMEOUT_MS',
  'WEBHOOK_RESPONSE_MAX_BYTES',
  'WEBHOOK_DISABLE_AFTER_S',
  'WEBHOOK_SECRET_ROTATION_OVERLAP_S',
  'EGRESS_ALLOW_PRIVATE',
  'PAYMENTS_WEBHOOK_SECRET',
  'PLATFORM_CLEANUP_INTERVAL_S',
  'EXPORT_SWEEP_INTERVAL_S',
  'RETENTION_SESSIONS_DAYS',
  'RETENTION_EXPORTS_DAYS',
  'RETENTION_WEBHOOK_LOG_DAYS',
  'RETENTION_INVITATIONS_DAYS',
  'RETENTION_SECURITY_BLOCKS_DAYS',
  'RETENTION_ACCESS_RECORDS_DAYS',
  'RETENTION_DOMAIN_EVENTS_DAYS',
  'OUTBOX_POLL_INTERVAL_MS',
  'OUTBOX_RELAY_ENABLED',
  'QUEUE_PREFIX',
  'INTERNAL_HOST',
  'INTERNAL_PORT',
  'INTERNAL_SERVICE_KEYS',
  'INTERNAL_SIGNATURE_TOLERANCE_S',
] as const satisfies readonly (keyof AppConfig)[];

/** Read by the npm scripts and the seed, not by the API or worker. */
export const SCRIPT_VARIABLES = ['SEED_DEMO_PASSWORD', 'BENTENG_LOCAL_PG_PORT', 'BENTENG_TEST_PG_PORT', 'LAB_PORT', 'LAB_INTERNAL_PORT', 'LAB_PG_PORT', 'LAB_DATABASE_URL'] as const;

/**
 * Variables that hold credentials: named so tooling (docs, redaction tests) knows them. Each is also
 * accepted as `NAME_FILE`, a path to a file holding the value (libs/config/src/secret-source.ts).
 */
export const SECRET_VARIABLES = [
  'DATABASE_URL',
  'DATABASE_APP_URL',
  'DATABASE_APP_PASSWORD',
  'DATABASE_INTERNAL_URL',
  'DATABASE_INTERNAL_PASSWORD',
  'REDIS_URL',
  'AUTH_SIGNING_KEYS',
  'AUTH_TOKEN_PEPPER',
  'JOB_SIGNING_KEYS',
  'DATA_ENCRYPTION_KEYS',
  'KEY_RING_ROOT_KEYS',
  'PAYMENTS_WEBHOOK_SECRET',
  'INTERNAL_SERVICE_KEYS',
] as const;

/** The partner environment this deployment accepts (PARTNER_ENVIRONMENT, or its default). */
export function partnerEnvironment(config: AppConfig): 'live' | 'test' {
  return config.PARTNER_ENVIRONMENT ?? (config.NODE_ENV === 'production' ? 'live' : 'test');
}
