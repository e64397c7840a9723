import { createHash } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { AppConfig } from '@benteng/config';
import { InjectRedis, type RedisClient } from '@benteng/redis';
import { ipBucket as ipSubject } from './client-ip.js';
import { RedisFallbackNotice } from './redis-fallback-notice.js';

export const THROTTLE_KEY_PREFIX = 'benteng:throttle:';

/** Failed refresh-token presentations per client IP within LOGIN_WINDOW_S before the IP is throttled. */
export const REFRESH_MAX_FAILURES_PER_IP = 30;

/** No block, however often repeated, lasts longer than a day: a locked-out owner can always come back. */
const MAX_BLOCK_S = 86_400;

/** How long after a block ends its escalation level is remembered (the next block doubles). */
const ESCALATION_MEMORY_S = 86_400;

/**
 * How long a successful sign-in makes its address familiar to the account: from a familiar
 * address the account is spared the blocks other addresses caused (see LoginThrottle).
 */
export const FAMILIAR_ADDRESS_S = 30 * 86_400;

export interface ThrottleKey {
  /** The email as typed; normalised and hashed before it reaches Redis. */
  account?: string;
  /** The client address from clientIp(request), never from a header. */
  ip: string;
  /**
   * The caller already holds a valid credential (a password change by a signed-in user): only the
   * account's own counters apply, never the address's, which counts anonymous spraying.
   */
  authenticated?: boolean;
}

/**
 * `account`: the account's failures from all addresses (distributed guessing); `account_ip`: the
 * account's failures from this address; `ip`: this address's failures over all accounts (spraying).
 */
export type ThrottleLimit = 'account' | 'account_ip' | 'ip';
export type ThrottleDecision = { allowed: true } | { allowed: false; retryAfterS: number; reason: ThrottleLimit };
export type RefreshThrottleDecision = { allowed: true } | { allowed: false; retryAfterS: number };

/**
 * One kind of failure counted per subject, with progressive blocks.
 *
 * rate-limiter-flexible's `blockDuration` is a fixed number, so two of its Redis limiters work
 * together (the "dynamic block duration" recipe of its documentation):
 * - `failures` counts failures in a fixed window of LOGIN_WINDOW_S. The failure that reaches the
 *   maximum turns the key into a block with `block(subject, seconds)`: the same key, saturated,
 *   with the block's TTL. When it expires the subject starts again from zero.
 * - `blocks` counts how often the subject was blocked (atomic `penalty`), and `set` re-arms its TTL
 *   at each block so the level outlives the block it caused. The n-th block lasts
 *   window × 2^(n-1), capped at a day; a day after the last block ends the level is forgotten.
 *
 * Each Redis limiter has a RateLimiterMemory `insuranceLimiter` with the same rules: when Redis
 * fails, the library runs the same operation on this process's memory. Limits then hold per
 * instance (an attacker spreading requests over N instances gets up to N times the budget, and
 * counts made meanwhile are not merged back) rather than not at all. `rejectIfRedisNotReady`
 * sends commands to the insurance at once while ioredis is reconnecting instead of waiting.
 */
class ProgressiveFailureCounter {
  private readonly failures: RateLimiterRedis;
  private readonly blocks: RateLimiterRedis;

  constructor(
    redis: RedisClient,
    name: string,
    private readonly maxFailures: number,
    private readonly windowS: number,
  ) {
    const prefix = `${THROTTLE_KEY_PREFIX}${name}`;
    this.failures = insured(redis, { keyPrefix: `${prefix}:failures`, points: maxFailures, duration: windowS });
    // Only penalty/set/get/delete are used on this one, so `points` never refuses anything.
    this.blocks = insured(redis, { keyPrefix: `${prefix}:blocks`, points: Number.MAX_SAFE_INTEGER, duration: MAX_BLOCK_S + ESCALATION_MEMORY_S });
  }

  /** Milliseconds until the subject may try again; 0 when it is not blocked. */
  async blockedForMs(subject: string): Promise<number> {
    const state = await this.failures.get(subject);
    // `>=`, not `>`: between the failure that reaches the maximum and its block() call, the count
    // alone already refuses, so concurrent requests on other instances cannot slip through.
    if (!state || state.consumedPoints < this.maxFailures) return 0;
    return Math.max(state.msBeforeNext, 1);
  }

  /** Counts a failure; returns the length of the block it started, in seconds, or 0. */
  async recordFailure(subject: string): Promise<number> {
    const { consumedPoints } = await this.failures.penalty(subject);
    // Exactly one failure sees the count equal the maximum (the increment is atomic in Redis), so
    // a burst of concurrent failures escalates once, not once per request.
    if (consumedPoints !== this.maxFailures) return 0;
    const { consumedPoints: level } = await this.blocks.penalty(subject);
    const blockS = Math.min(this.windowS * 2 ** (level - 1), MAX_BLOCK_S);
    await this.failures.block(subject, blockS);
    // Re-arms the level's TTL (penalty only sets one when the key is new). Not atomic with the
    // penalty above: a concurrent block may lose one step of escalation, never the block itself.
    await this.blocks.set(subject, level, blockS + ESCALATION_MEMORY_S);
    return blockS;
  }

  async reset(subject: string): Promise<void> {
    await Promise.all([this.failures.delete(subject), this.blocks.delete(subject)]);
  }
}

function insured(redis: RedisClient, options: { keyPrefix: string; points: number; duration: number }): RateLimiterRedis {
  return new RateLimiterRedis({
    ...options,
    storeClient: redis,
    rejectIfRedisNotReady: true,
    insuranceLimiter: new RateLimiterMemory(options),
  });
}

/**
 * Brute-force protection for login and token refresh, shared by every API instance through Redis.
 *
 * Protocol for a login: `check` BEFORE the password is verified (a blocked caller must not get
 * another guess, nor spend our argon2 time), then `recordFailure` or `recordSuccess`. Unknown
 * emails are counted like known ones, so a block says nothing about whether an account exists
 * (docs/architecture.md, invariant 5). Three counters, so that neither a guesser sharing an address with
 * the account's owner (an office NAT, a carrier's CGNAT) nor one spread over many addresses gets
 * what they want:
 * - per account and address (LOGIN_MAX_FAILURES_PER_ACCOUNT_IP, 10): slows the guesser where it
 *   guesses, and nobody else: the owner signs in from anywhere else, colleagues behind the same
 *   address sign in to their own accounts.
 * - per account, all addresses (LOGIN_MAX_FAILURES_PER_ACCOUNT, 50, above the first so one
 *   address alone never reaches it): caps distributed guessing at one password.
 * - per address, all accounts (LOGIN_MAX_FAILURES_PER_IP, 100): caps one client spraying many
 *   accounts.
 * The last two are not the owner's doing, so they spare an account at an address it signed in
 * from within FAMILIAR_ADDRESS_S (a key set only by a correct password): the owner at their usual
 * address keeps signing in during a distributed attack or a spray from the office next door, and
 * a guesser at that address still meets the first counter. A password change by a signed-in user
 * (`authenticated`) is judged by the account's counters only.
 *
 * Fail mode: never open. While Redis is unavailable the limits apply per instance (see
 * ProgressiveFailureCounter) and a warning is logged; should even that fail, the methods reject
 * and the login fails with an error instead of proceeding unthrottled.
 */
@Injectable()
export class LoginThrottle {
  private readonly logger = new Logger(LoginThrottle.name);
  private readonly accounts: ProgressiveFailureCounter;
  private readonly accountIps: ProgressiveFailureCounter;
  private readonly ips: ProgressiveFailureCounter;
  private readonly refreshIps: ProgressiveFailureCounter;
  private readonly redisNotice: RedisFallbackNotice;

  constructor(
    config: AppConfig,
    @InjectRedis() private readonly redis: RedisClient,
  ) {
    this.redisNotice = new RedisFallbackNotice(redis, this.logger, { lost: 'Redis unavailable: login throttling falls back to per-instance limits', back: 'Redis available again: login throttling is shared across instances' });
    const window = config.LOGIN_WINDOW_S;
    this.accounts = new ProgressiveFailureCounter(redis, 'login-account', config.LOGIN_MAX_FAILURES_PER_ACCOUNT, window);
    this.accountIps = new ProgressiveFailureCounter(redis, 'login-account-ip', config.LOGIN_MAX_FAILURES_PER_ACCOUNT_IP, window);
    this.ips = new ProgressiveFailureCounter(redis, 'login-ip', config.LOGIN_MAX_FAILURES_PER_IP, window);
    this.refreshIps = new ProgressiveFailureCounter(redis, 'refresh-ip', REFRESH_MAX_FAILURES_PER_IP, window);
  }

  async check(key: ThrottleKey): Promise<ThrottleDecision> {
    this.redisNotice.note();
    const account = key.account === undefined ? undefined : accountSubject(key.account);
    const [accountMs, pairMs, ipMs, familiar] = await Promise.all([
      account === undefined ? 0 : this.accounts.blockedForMs(account),
      account === undefined ? 0 : this.accountIps.blockedForMs(pairSubject(account, key.ip)),
      key.authenticated ? 0 : this.ips.blockedForMs(ipSubject(key.ip)),
      account === undefined ? false : this.isFamiliar(account, key.ip),
    ]);
    // Everything that must clear before a retry can succeed; the caller is told the longest wait.
    const blocks: [ThrottleLimit, number][] = [
      ['account', familiar ? 0 : accountMs],
      ['account_ip', pairMs],
      ['ip', familiar ? 0 : ipMs],
    ];
    const [reason, ms] = blocks.reduce((longest, block) => (block[1] > longest[1] ? block : longest));
    return ms === 0 ? { allowed: true } : { allowed: false, retryAfterS: toSeconds(ms), reason };
  }

  /**
   * Counts a failed attempt. Says which block, if any, this very failure started, so the caller
   * audits the start of a block once instead of every refused attempt during it.
   */
  async recordFailure(key: ThrottleKey): Promise<{ blocked: ThrottleLimit | null; blockS: number }> {
    this.redisNotice.note();
    const account = key.account === undefined ? undefined : accountSubject(key.account);
    const [accountS, pairS, ipS] = await Promise.all([
      account === undefined ? 0 : this.accounts.recordFailure(account),
      account === undefined ? 0 : this.accountIps.recordFailure(pairSubject(account, key.ip)),
      key.authenticated ? 0 : this.ips.recordFailure(ipSubject(key.ip)),
    ]);
    // The widest block this failure started, if any (each is audited once, when it starts).
    if (accountS > 0) return { blocked: 'account', blockS: accountS };
    if (pairS > 0) return { blocked: 'account_ip', blockS: pairS };
    if (ipS > 0) return { blocked: 'ip', blockS: ipS };
    return { blocked: null, blockS: 0 };
  }

  /**
   * A correct password clears the account's failures and their escalation, here and everywhere:
   * only the owner (or someone who already has the password) can do that. It also makes this
   * address familiar to the account for FAMILIAR_ADDRESS_S. The IP's count stays, so an attacker
   * who owns one account cannot use its logins to reset their budget for spraying others.
   */
  async recordSuccess(key: ThrottleKey): Promise<void> {
    this.redisNotice.note();
    if (key.account === undefined) return;
    const account = accountSubject(key.account);
    await Promise.all([this.accounts.reset(account), this.accountIps.reset(pairSubject(account, key.ip)), this.markFamiliar(account, key.ip)]);
  }

  /**
   * Whether the account signed in from this address recently. Read from Redis only: while Redis is
   * unavailable no address is familiar, so the stricter limits apply (never open).
   */
  private async isFamiliar(account: string, ip: string): Promise<boolean> {
    if (this.redis.status !== 'ready') return false;
    return (await this.redis.exists(familiarKey(account, ip)).catch(() => 0)) === 1;
  }

  private async markFamiliar(account: string, ip: string): Promise<void> {
    if (this.redis.status !== 'ready') return;
    await this.redis.set(familiarKey(account, ip), '1', 'EX', FAMILIAR_ADDRESS_S).catch(() => undefined);
  }

  /** Call before looking up a presented refresh token. */
  async checkRefresh(ip: string): Promise<RefreshThrottleDecision> {
    this.redisNotice.note();
    const ms = await this.refreshIps.blockedForMs(ipSubject(ip));
    return ms === 0 ? { allowed: true } : { allowed: false, retryAfterS: toSeconds(ms) };
  }

  /** A refresh token that was unknown, expired or revoked: someone may be guessing tokens. */
  async recordRefreshFailure(ip: string): Promise<void> {
    this.redisNotice.note();
    await this.refreshIps.recordFailure(ipSubject(ip));
  }
}

/** One account at one address (IPv6: its /64): `<account digest>:<address>`. */
function pairSubject(account: string, ip: string): string {
  return `${account}:${ipSubject(ip)}`;
}

function familiarKey(account: string, ip: string): string {
  return `${THROTTLE_KEY_PREFIX}login-familiar:${pairSubject(account, ip)}`;
}

function toSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/**
 * The account as a Redis key part: normalised so case and Unicode variants of one address share a
 * counter (erring toward counting together), then hashed so no email is stored in Redis keys.
 */
function accountSubject(email: string): string {
  const normalised = email.normalize('NFKC').trim().toLowerCase();
  return createHash('sha256').update(normalised, 'utf8').digest('hex');
}
