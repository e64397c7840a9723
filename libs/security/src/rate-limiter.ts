import { Injectable, Logger } from '@nestjs/common';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { AppConfig } from '@benteng/config';
import { InjectRedis, isCluster, type RedisClient } from '@benteng/redis';
import { ipBucket } from './client-ip.js';
import { PRINCIPAL_CLASSES, SENSITIVITIES, rateLimitPolicy, type Limit, type PrincipalClass, type Sensitivity } from './rate-limit-policy.js';
import { RedisFallbackNotice } from './redis-fallback-notice.js';
import { RedisScript } from './redis-script.js';

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

/**
 * A key the gate's one round trip reads before it consumes anything (`consumeUnless`): the request
 * is refused, and nothing consumed, when the key is `present` (a revocation marker, a block) or
 * `absent` (the revocation store's READY marker: without it the markers cannot be trusted).
 */
export interface Guard {
  readonly key: string;
  readonly stopWhen: 'present' | 'absent';
}

/** What the round trip read under a guard key: its value and PTTL (-2 when the key is absent). */
export interface GuardRead {
  readonly value: string | null;
  readonly pttlMs: number;
}

export interface GuardedConsumption {
  /** One read per guard, in the order given. */
  readonly reads: readonly GuardRead[];
  /** The limiter's answer; absent when a guard stopped the request before anything was consumed. */
  readonly result?: RateLimitResult;
}

/**
 * The gate's checks after authentication in one script, one round trip (docs/benchmarks.md,
 * "security tax"): read the guard keys (revocation markers, the principal's block) and stop when one
 * says so, before anything is consumed; else consume the principal's cell and, only when that
 * allows, the tenant cap, refunding the cell when the tenant cap refuses. Each consumption is
 * rate-limiter-flexible's own script on the same key (`SET NX EX`, `INCRBY`, `PTTL`, `EXPIRE` when
 * the TTL is missing), so counts, windows and keys are the same as `consume`'s and the two paths can
 * serve the same budget side by side. The refund happens in the same atomic script, so a concurrent
 * request of the same principal never sees the refused request's point (stricter than `consume`).
 * KEYS: guard keys, cell key[, tenant key]. ARGV: guard count, the guards' modes ('p' | 'a'), cell
 * points, cell window (s)[, tenant points, tenant window (s)].
 * Reply: {0, reads} when stopped; else {1, reads, cell, tenant or peek or false, refunded (0|1)},
 * where cell and tenant are {consumed, pttl}.
 */
const GATE_SCRIPT = `
local n = tonumber(ARGV[1])
local reads = {}
local stop = false
for i = 1, n do
  local value = redis.call('GET', KEYS[i])
  local pttl = -2
  if value then pttl = redis.call('PTTL', KEYS[i]) end
  reads[i] = {value, pttl}
  local mode = ARGV[1 + i]
  if (mode == 'p' and value) or (mode == 'a' and not value) then stop = true end
end
if stop then return {0, reads} end
local function incr(key, by, duration)
  redis.call('SET', key, 0, 'EX', duration, 'NX')
  local consumed = redis.call('INCRBY', key, by)
  local ttl = redis.call('PTTL', key)
  if ttl == -1 then
    redis.call('EXPIRE', key, duration)
    ttl = 1000 * duration
  end
  return {consumed, ttl}
end
local at = n + 2
local cellKey = KEYS[n + 1]
local cell = incr(cellKey, 1, ARGV[at + 1])
if #KEYS == n + 1 then return {1, reads, cell, false, 0} end
local tenantKey = KEYS[n + 2]
if cell[1] > tonumber(ARGV[at]) then
  local used = redis.call('GET', tenantKey)
  local peek = false
  if used then peek = {tonumber(used), redis.call('PTTL', tenantKey)} end
  return {1, reads, cell, peek, 0}
end
local tenant = incr(tenantKey, 1, ARGV[at + 3])
if tenant[1] > tonumber(ARGV[at + 2]) then
  return {1, reads, incr(cellKey, -1, ARGV[at + 1]), tenant, 1}
end
return {1, reads, cell, tenant, 0}
`;

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

  /**
   * `consume` with guards, in one round trip (GATE_SCRIPT): nothing is consumed when a guard stops
   * the request, and otherwise exactly what `consume` would consume. Undefined when the round trip
   * is not possible, and the caller then reads its guards and calls `consume` one by one, which
   * keeps every fallback of those (per-instance insurance limits while Redis is down; the
   * revocation store asks Postgres):
   * - on Redis Cluster, whose scripts may only touch keys of one slot (revocation markers, blocks,
   *   the principal's cell and the tenant cap are different subjects, hence slots; and the tenant
   *   cap may only be touched after the principal's cell allowed, so they cannot be split into
   *   calls of the same tick);
   * - while Redis is not ready, or when the script fails (a timeout after Redis ran it would count
   *   the request twice: a spurious refusal at worst, never an admission beyond the budget).
   */
  async consumeUnless(subject: RateLimitSubject, sensitivity: Sensitivity, guards: readonly Guard[]): Promise<GuardedConsumption | undefined> {
    if (isCluster(this.redis) || this.redis.status !== 'ready') return undefined;
    const cell = this.cells.get(cellKey(subject.principalClass, sensitivity));
    if (!cell) throw new Error('Unknown principal class or sensitivity');
    if (subject.owner === '' || subject.owner === 'ip:') throw new Error('A rate-limit subject needs an owner');
    this.redisNotice.note();

    const owner = subject.owner.startsWith('ip:') ? `ip:${ipBucket(subject.owner.slice(3))}` : subject.owner;
    const tenantId = subject.tenantId;
    const keys = [...guards.map((guard) => guard.key), cell.limiter.getKey(owner)];
    const args: (string | number)[] = [guards.length, ...guards.map((guard) => (guard.stopWhen === 'present' ? 'p' : 'a')), cell.limit.points, cell.limit.windowS];
    if (tenantId !== undefined) {
      keys.push(this.tenant.limiter.getKey(tenantId));
      args.push(this.tenant.limit.points, this.tenant.limit.windowS);
    }
    let reply: unknown[];
    try {
      reply = (await gateScript.evalsha(this.redis, [keys.length, ...keys, ...args])) as unknown[];
    } catch (error) {
      this.logger.warn(`Gate round trip failed (${error instanceof Error ? error.message : 'unknown error'}): checks read one by one`);
      return undefined;
    }
    const reads = (reply[1] as [string | null, number][]).map(([value, pttlMs]) => ({ value: value ?? null, pttlMs: Number(pttlMs) }));
    if (Number(reply[0]) === 0) return { reads };

    const policyHeader = [item(cell.policy, { q: cell.limit.points, w: cell.limit.windowS })];
    if (tenantId !== undefined) policyHeader.push(item(TENANT_POLICY, { q: this.tenant.limit.points, w: this.tenant.limit.windowS }));
    const principal = res(cell.limit, reply[2] as [number, number]);
    const tenantReply = reply[3] as [number, number] | null;
    const refunded = Number(reply[4]) === 1;
    if (principal.consumedPoints > cell.limit.points) {
      // Refused by the principal's cell: the tenant cap was read, not consumed (no key: nothing
      // counted in this window yet, the whole budget is left).
      const tenant = tenantId === undefined ? undefined : tenantReply ? usage(res(this.tenant.limit, tenantReply)) : { remaining: this.tenant.limit.points, resetS: this.tenant.limit.windowS };
      return { reads, result: refusal(cell.policy, 'principal', principal, policyHeader, usage(principal), tenant) };
    }
    if (tenantId === undefined || tenantReply === null) {
      return { reads, result: { allowed: true, policy: cell.policy, headers: headers(cell.policy, policyHeader, usage(principal)) } };
    }
    const tenant = res(this.tenant.limit, tenantReply);
    if (refunded) return { reads, result: refusal(cell.policy, 'tenant', tenant, policyHeader, usage(principal), usage(tenant)) };
    return { reads, result: { allowed: true, policy: cell.policy, headers: headers(cell.policy, policyHeader, usage(principal), usage(tenant)) } };
  }

  private async peekTenant(tenantId: string): Promise<Usage> {
    const res = await this.tenant.limiter.get(tenantId);
    // No key: nothing counted in this window yet, the whole budget is left.
    if (!res) return { remaining: this.tenant.limit.points, resetS: this.tenant.limit.windowS };
    return usage(res);
  }
}

const gateScript = new RedisScript(GATE_SCRIPT);

/** A {consumed, pttl} reply read as rate-limiter-flexible reads its own script's reply. */
function res(limit: Limit, [consumed, pttl]: [number, number]): RateLimiterRes {
  const points = Number(consumed);
  return new RateLimiterRes(Math.max(limit.points - points, 0), Number(pttl), points);
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
