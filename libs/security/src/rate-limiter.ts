import { Injectable, Logger } from '@nestjs/common';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { AppConfig } from '@benteng/config';
import { InjectRedis, type RedisClient } from '@benteng/redis';
import { ipBucket } from './client-ip.js';
import { PRINCIPAL_CLASSES, SENSITIVITIES, rateLimitPolicy, type Limit, type PrincipalClass, type Sensitivity } from './rate-limit-policy.js';
import { RedisFallbackNotice } from './redis-fallback-notice.js';

export const RATE_LIMIT_KEY_PREFIX = 'benteng:rl:';

export interface RateLimitSubject {
  readonly principalClass: PrincipalClass;
  /**
   * Credential owner the budget belongs to: 'ip:<addr>' (anonymous), 'user:<uuid>',
   * 'partner:<clientId>', 'operator:<id>'. Many keys of one partner client share one budget
   * because the owner is the client: minting more keys does not buy more requests. An IPv6
   * 'ip:' owner is counted per /64 (see ipBucket), so rotating addresses does not either.
   */
  readonly owner: string;
  /** Tenant of the principal, for the per-tenant aggregate cap (absent for anonymous). */
  readonly tenantId?: string;
}

export interface RateLimitResult {
  readonly allowed: boolean;
  /**
   * Response headers to set on every answer, allowed or not (draft-ietf-httpapi-ratelimit-headers-10,
   * structured fields): `RateLimit-Policy` (`"user-read";q=1200;w=60, "tenant";q=20000;w=60`),
   * `RateLimit` (`"user-read";r=1199;t=42, "tenant";r=19990;t=42`), and `Retry-After` (seconds,
   * at least 1) only when refused. The tenant item is present only for a subject with a tenant.
   */
  readonly headers: Readonly<Record<string, string>>;
  readonly retryAfterS?: number;
  /** Which budget refused: the principal's cell or the tenant aggregate. */
  readonly exceeded?: 'principal' | 'tenant';
  /** Policy name, e.g. 'user-read', 'partner-standard-search'. */
  readonly policy: string;
}

const TENANT_POLICY = 'tenant';

/** Remaining points and seconds to the window's end, as the `RateLimit` header reports them. */
interface Usage {
  readonly remaining: number;
  readonly resetS: number;
}

/**
 * Request budgets per principal class × route sensitivity (rate-limit-policy.ts), plus one cap over
 * a whole tenant, shared by every API instance through Redis.
 *
 * Counting is rate-limiter-flexible's fixed window: one Lua script per request increments the key
 * and sets its TTL atomically, so with a limit of N exactly N requests of a window are allowed, even
 * when they race on many connections and processes.
 *
 * Order: the principal's cell first. A request it refuses never touches the tenant cap (one noisy
 * principal cannot drain the tenant's budget with refused requests). A request the principal's
 * cell allows but the tenant cap refuses gets its point back (`reward`), so a refused request
 * costs the principal nothing. While that refund is in flight the principal's count is one too
 * high: a concurrent request of the same principal may be refused spuriously, never admitted
 * beyond N. (Should the window end between consume and refund, the refund is carried into the new
 * window as one spare point, an edge of milliseconds.)
 *
 * Degraded mode: each Redis limiter has a RateLimiterMemory `insuranceLimiter` with the same rule,
 * and `rejectIfRedisNotReady` sends work to it at once while ioredis reconnects. While Redis is
 * down the limits therefore hold per instance (N instances admit up to N times the budget, and the
 * counts made meanwhile are not merged back), never not at all. Should even the insurance fail,
 * `consume` rejects and the request fails rather than passing unlimited.
 */
@Injectable()
export class RateLimiter {
  private readonly logger = new Logger(RateLimiter.name);
  private readonly cells: ReadonlyMap<string, { limiter: RateLimiterRedis; limit: Limit; policy: string }>;
  private readonly tenant: { limiter: RateLimiterRedis; limit: Limit };
  private readonly redisNotice: RedisFallbackNotice;

  constructor(
    @InjectRedis() private readonly redis: RedisClient,
    config: AppConfig,
  ) {
    this.redisNotice = new RedisFallbackNotice(redis, this.logger, { lost: 'Redis unavailable: rate limits fall back to per-instance limits', back: 'Redis available again: rate limits are shared across instances' });
    // Built up front: a bad RATE_LIMIT_POLICY stops the process at start, not at the first request.
    const policy = rateLimitPolicy(config);
    const cells = new Map<string, { limiter: RateLimiterRedis; limit: Limit; policy: string }>();
    for (const principalClass of PRINCIPAL_CLASSES) {
      for (const sensitivity of SENSITIVITIES) {
        const limit = policy.classes[principalClass][sensitivity];
        cells.set(cellKey(principalClass, sensitivity), {
          limit,
          policy: policyName(principalClass, sensitivity),
          limiter: insured(redis, `${RATE_LIMIT_KEY_PREFIX}${principalClass}:${sensitivity}`, limit),
        });
      }
    }
    this.cells = cells;
    this.tenant = { limit: policy.tenant, limiter: insured(redis, `${RATE_LIMIT_KEY_PREFIX}tenant`, policy.tenant) };
  }

  async consume(subject: RateLimitSubject, sensitivity: Sensitivity): Promise<RateLimitResult> {
    const cell = this.cells.get(cellKey(subject.principalClass, sensitivity));
    if (!cell) throw new Error('Unknown principal class or sensitivity');
    // An empty owner would pool every such caller into one budget: a bug in the caller.
    if (subject.owner === '' || subject.owner === 'ip:') throw new Error('A rate-limit subject needs an owner');
    this.redisNotice.note();

    const tenantId = subject.tenantId;
    const policyHeader = [item(cell.policy, { q: cell.limit.points, w: cell.limit.windowS })];
    if (tenantId !== undefined) policyHeader.push(item(TENANT_POLICY, { q: this.tenant.limit.points, w: this.tenant.limit.windowS }));

    const owner = subject.owner.startsWith('ip:') ? `ip:${ipBucket(subject.owner.slice(3))}` : subject.owner;
    const principal = await attempt(cell.limiter, owner);
    if (!principal.allowed) {
      // The tenant cap is read, not consumed, so its header still tells the truth.
      const tenant = tenantId === undefined ? undefined : await this.peekTenant(tenantId);
      return refusal(cell.policy, 'principal', principal.res, policyHeader, usage(principal.res), tenant);
    }
    if (tenantId === undefined) {
      return { allowed: true, policy: cell.policy, headers: headers(cell.policy, policyHeader, usage(principal.res)) };
    }

    const tenant = await attempt(this.tenant.limiter, tenantId);
    if (!tenant.allowed) {
      const refunded = await cell.limiter.reward(owner, 1);
      return refusal(cell.policy, 'tenant', tenant.res, policyHeader, usage(refunded), usage(tenant.res));
    }
    return { allowed: true, policy: cell.policy, headers: headers(cell.policy, policyHeader, usage(principal.res), usage(tenant.res)) };
  }

  private async peekTenant(tenantId: string): Promise<Usage> {
    const res = await this.tenant.limiter.get(tenantId);
    // No key: nothing counted in this window yet, the whole budget is left.
    if (!res) return { remaining: this.tenant.limit.points, resetS: this.tenant.limit.windowS };
    return usage(res);
  }
}

function insured(redis: RedisClient, keyPrefix: string, limit: Limit): RateLimiterRedis {
  const options = { keyPrefix, points: limit.points, duration: limit.windowS };
  return new RateLimiterRedis({
    ...options,
    storeClient: redis,
    rejectIfRedisNotReady: true,
    insuranceLimiter: new RateLimiterMemory(options),
  });
}

/**
 * rate-limiter-flexible refuses by rejecting with a RateLimiterRes; any other rejection is a
 * failure of both Redis and the insurance and is passed on (never read as "allowed").
 */
async function attempt(limiter: RateLimiterRedis, key: string): Promise<{ allowed: boolean; res: RateLimiterRes }> {
  try {
    return { allowed: true, res: await limiter.consume(key, 1) };
  } catch (error) {
    if (error instanceof RateLimiterRes) return { allowed: false, res: error };
    throw error;
  }
}

function refusal(policy: string, exceeded: 'principal' | 'tenant', refusedBy: RateLimiterRes, policyHeader: string[], principal: Usage, tenant?: Usage): RateLimitResult {
  const retryAfterS = Math.max(1, Math.ceil(refusedBy.msBeforeNext / 1000));
  return {
    allowed: false,
    policy,
    exceeded,
    retryAfterS,
    headers: { ...headers(policy, policyHeader, principal, tenant), 'Retry-After': String(retryAfterS) },
  };
}

function headers(policy: string, policyHeader: string[], principal: Usage, tenant?: Usage): Record<string, string> {
  const state = [item(policy, { r: principal.remaining, t: principal.resetS })];
  if (tenant) state.push(item(TENANT_POLICY, { r: tenant.remaining, t: tenant.resetS }));
  return { 'RateLimit-Policy': policyHeader.join(', '), RateLimit: state.join(', ') };
}

function usage(res: RateLimiterRes): Usage {
  return { remaining: Math.max(0, res.remainingPoints), resetS: Math.max(0, Math.ceil(res.msBeforeNext / 1000)) };
}

/** A structured-field list item: a string naming the policy, with integer parameters. */
function item(name: string, parameters: Record<string, number>): string {
  return [`"${name}"`, ...Object.entries(parameters).map(([key, value]) => `${key}=${value}`)].join(';');
}

function cellKey(principalClass: PrincipalClass, sensitivity: Sensitivity): string {
  return `${principalClass}|${sensitivity}`;
}

/** 'partner:standard' + 'search' → 'partner-standard-search' (a valid structured-field string). */
export function policyName(principalClass: PrincipalClass, sensitivity: Sensitivity): string {
  return `${principalClass.replace(':', '-')}-${sensitivity}`;
}
