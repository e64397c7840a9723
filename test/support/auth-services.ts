import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { Clock, SystemClock } from '@benteng/common';
import { loadConfig, type AppConfig } from '@benteng/config';
import type { PrismaService, TenantDatabase } from '@benteng/database';
import type { RedisClient } from '@benteng/redis';
import { AuditLog, DeferredAuditLog } from '@benteng/audit';
import { LoginThrottle } from '@benteng/security';
import { AccessTokens } from '../../libs/auth/src/access-tokens.js';
import { AccountsRepository } from '../../libs/auth/src/accounts.repository.js';
import { LoginService } from '../../libs/auth/src/login.service.js';
import { PasswordHasher } from '../../libs/auth/src/password-hasher.js';
import { PartnerAuthService } from '../../libs/auth/src/partner-auth.service.js';
import { PartnerCredentials } from '../../libs/auth/src/partner-credentials.js';
import { PartnerCredentialsRepository } from '../../libs/auth/src/partner-credentials.repository.js';
import { PasswordService } from '../../libs/auth/src/password.service.js';
import { ProfileService } from '../../libs/auth/src/profile.service.js';
import { RefreshService } from '../../libs/auth/src/refresh.service.js';
import { RefreshTokens } from '../../libs/auth/src/refresh-tokens.js';
import { RevocationStore } from '../../libs/auth/src/revocation-store.js';
import { SessionIssuer } from '../../libs/auth/src/session-issuer.js';
import { SessionsRepository } from '../../libs/auth/src/sessions.repository.js';
import { SessionsService } from '../../libs/auth/src/sessions.service.js';
import { SigningKeys } from '../../libs/auth/src/signing-keys.js';
import { TenantSwitchService } from '../../libs/auth/src/tenant-switch.service.js';
import { capturingLogger } from './capturing-logger.js';
import { ownerInTenant } from './db.js';

export { capturingLogger, type LogLine } from './capturing-logger.js';

/** A Clock a test sets and moves (the services read time only from it). */
export class SettableClock extends Clock {
  constructor(public at: Date = new Date()) {
    super();
  }
  now(): Date {
    return new Date(this.at.getTime());
  }
  advance(seconds: number): void {
    this.at = new Date(this.at.getTime() + seconds * 1000);
  }
}

export const systemClock = (): Clock => new SystemClock();

/** The configuration of this test process, with overrides. */
export function authConfig(env: Record<string, string> = {}): AppConfig {
  return loadConfig({ ...process.env, ...env });
}

export interface SessionSeed {
  userId: string;
  createdAt?: Date;
  expiresAt?: Date;
  revokedAt?: Date | null;
  userAgent?: string;
}

/** Inserts a session row through the owner connection (the arrangement, not the code under test); answers its id. */
export async function insertSession(owner: pg.Pool, tenantId: string, seed: SessionSeed): Promise<string> {
  const id = randomUUID();
  await ownerInTenant(owner, tenantId, (client) =>
    client.query('INSERT INTO sessions (tenant_id, id, user_id, created_at, last_seen_at, expires_at, revoked_at, user_agent, ip) VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8)', [
      tenantId,
      id,
      seed.userId,
      seed.createdAt ?? new Date(),
      seed.expiresAt ?? new Date(Date.now() + 3_600_000),
      seed.revokedAt ?? null,
      seed.userAgent ?? null,
      '192.0.2.1',
    ]),
  );
  return id;
}

/** Sets a tenant's or a user's status through the owner connection. */
export async function setStatus(owner: pg.Pool, table: 'tenants' | 'users', id: string, status: string): Promise<void> {
  await owner.query(`UPDATE ${table} SET status = $2 WHERE id = $1`, [id, status]);
}

export type Db = { db: TenantDatabase; prisma: PrismaService };

/** A row of a tenant's audit log, as the auth services write it. */
export interface AuditRow {
  type: string;
  outcome: string;
  actor: string;
  subject: string | null;
  ip: string | null;
  request_id: string | null;
  data: Record<string, unknown>;
}

/** The tenant's audit events (read through the owner connection), oldest first, optionally of some types only. */
export async function auditOf(owner: pg.Pool, tenantId: string, types?: string[]): Promise<AuditRow[]> {
  const { rows } = await ownerInTenant(owner, tenantId, (c) =>
    c.query<AuditRow>('SELECT type, outcome, actor, subject, ip, request_id, data FROM audit_events WHERE tenant_id = $1 ORDER BY seq', [tenantId]),
  );
  return types ? rows.filter((r) => types.includes(r.type)) : rows;
}

/** A tenant's sessions of one user, as stored. */
export async function sessionsOf(owner: pg.Pool, tenantId: string, userId: string) {
  const { rows } = await ownerInTenant(owner, tenantId, (c) =>
    c.query<{ id: string; created_at: Date; last_seen_at: Date; expires_at: Date; revoked_at: Date | null; revoked_reason: string | null; user_agent: string | null; ip: string | null }>(
      'SELECT id, created_at, last_seen_at, expires_at, revoked_at, revoked_reason, user_agent, ip FROM sessions WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at, id',
      [tenantId, userId],
    ),
  );
  return rows;
}

/** A session's refresh tokens, as stored, oldest first. */
export async function refreshTokensOf(owner: pg.Pool, tenantId: string, sessionId: string) {
  const { rows } = await ownerInTenant(owner, tenantId, (c) =>
    c.query<{ id: string; token_hash: string; created_at: Date; expires_at: Date; rotated_at: Date | null }>(
      'SELECT id, token_hash, created_at, expires_at, rotated_at FROM refresh_tokens WHERE tenant_id = $1 AND session_id = $2 ORDER BY created_at, id',
      [tenantId, sessionId],
    ),
  );
  return rows;
}

export interface AuthGraphOptions {
  clock?: Clock;
  env?: Record<string, string>;
  redis: RedisClient;
  db: Db;
}

/**
 * The auth services wired as AuthModule wires them (libs/auth/src/auth.module.ts), on the real
 * PostgreSQL (the application's own Prisma client and TenantDatabase) and Redis, with the test
 * process's signing keys and pepper; `lines` holds what the services logged.
 */
export async function authGraph(options: AuthGraphOptions) {
  const { logger, lines, contexts } = capturingLogger();
  const config = authConfig(options.env);
  const clock = options.clock ?? systemClock();
  const { prisma, db } = options.db;
  const keys = new SigningKeys(config, logger);
  await keys.onModuleInit();
  const accessTokens = new AccessTokens(keys, config, clock);
  const refreshTokens = new RefreshTokens(config, logger);
  const audit = new AuditLog(db, clock);
  const sessionsRepository = new SessionsRepository(prisma, db, refreshTokens, audit, clock);
  const accounts = new AccountsRepository(prisma, db);
  const revocations = new RevocationStore(options.redis, prisma, db, config, clock, logger);
  const throttle = new LoginThrottle(config, options.redis);
  const hasher = new PasswordHasher();
  const issuer = new SessionIssuer(sessionsRepository, accessTokens, refreshTokens, config, clock);
  const refresh = new RefreshService(sessionsRepository, refreshTokens, revocations, throttle, issuer, logger);
  const sessions = new SessionsService(sessionsRepository, revocations, audit, clock);
  const failureAudit = new DeferredAuditLog(audit);
  const login = new LoginService(accounts, hasher, throttle, failureAudit, issuer, logger);
  const tenantSwitch = new TenantSwitchService(revocations, accounts, issuer);
  const password = new PasswordService(accounts, hasher, throttle, audit, sessions);
  const profile = new ProfileService(accounts);
  const partnerCredentials = new PartnerCredentials(config, logger);
  const partnerRepository = new PartnerCredentialsRepository(prisma, db);
  const partnerAuth = new PartnerAuthService(partnerRepository, partnerCredentials, accessTokens, audit, config, clock, logger);
  return {
    config,
    clock,
    lines,
    contexts,
    keys,
    accessTokens,
    refreshTokens,
    audit,
    sessionsRepository,
    accounts,
    revocations,
    throttle,
    hasher,
    issuer,
    refresh,
    sessions,
    failureAudit,
    login,
    tenantSwitch,
    password,
    profile,
    partnerCredentials,
    partnerRepository,
    partnerAuth,
  };
}
