import { randomBytes } from 'node:crypto';
import { ipBucket } from './client-ip.js';
import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '@benteng/config';
import { getEach, hashTag, InjectRedis, isCluster, type RedisClient } from '@benteng/redis';
import { RedisScript } from './redis-script.js';
import type { GuardRead } from './rate-limiter.js';

/** How much more authenticated traffic an address may carry than one principal (see countersFor). */
export const SHARED_ADDRESS_FACTOR = 5;

export const ABUSE_KEY_PREFIX = 'benteng:abuse:';

/**
 * - `not_found`: 404s on object routes (guessing ids: enumeration).
 * - `auth_failure`: 401/403 answers (guessing credentials or probing permissions).
 * - `scraping`: distinct objects read successfully (harvesting everything one may see).
 * - `burst`: any request, counted over a short window (a flood the rate limit's window smooths).
 */
export type AbuseSignal = 'not_found' | 'auth_failure' | 'scraping' | 'burst';

export interface AbuseObservation {
  /** The client address from clientIp(request), never from a header. */
  readonly ip: string;
  /** 'user:<uuid>' | 'partner:<uuid>', when the request was authenticated. */
  readonly principal?: string;
  readonly tenantId?: string;
  readonly method: string;
  readonly status: number;
  /** The route addresses one object by id (GET /v1/invoices/:id), so a 404 there is a miss on a guess. */
  readonly objectRoute: boolean;
  readonly objectId?: string;
}

export interface PlacedBlock {
  /** For an IP, the counted address: the IPv4 address, or the IPv6 /64 (e.g. '2001:db8:1:2::/64'). */
  readonly subject: { kind: 'principal'; principal: string; tenantId?: string } | { kind: 'ip'; ip: string };
  readonly signal: AbuseSignal;
  /** The count that crossed the threshold (at most threshold + 1: see `observe`). */
  readonly observed: number;
  readonly threshold: number;
  readonly windowS: number;
  readonly blockS: number;
  /** The address of the request that crossed, as observed. */
  readonly ip: string;
}

export interface ActiveBlock {
  readonly subject: 'principal' | 'ip';
  readonly signal: AbuseSignal;
  readonly retryAfterS: number;
  /**
   * 'detector': placed by `observe` from counted answers (automatic). 'explicit': any other entry
   * under the block key, an operator's deny (see ExplicitBlock). The gate lets a valid credential
   * through an automatic address block, never through an explicit one
   * (apps/api/src/http/gate/address-block.stage.ts).
   */
  readonly source: BlockSource;
}

export type BlockSource = 'detector' | 'explicit';

/** Marks the blocks `observe` places, so they are told apart from explicit (operator) entries. */
export const DETECTOR_SOURCE = 'detector';

const SIGNALS: readonly AbuseSignal[] = ['not_found', 'auth_failure', 'scraping', 'burst'];

/**
 * When one observation makes a subject cross several signals, the block names the first of these:
 * the most specific explanation (a flood of 404s is also a burst, but "not_found" says why).
 */
const SIGNAL_PRIORITY: readonly AbuseSignal[] = ['auth_failure', 'not_found', 'scraping', 'burst'];

interface Counter {
  readonly subjectKey: string;
  readonly subject: PlacedBlock['subject'];
  readonly signal: AbuseSignal;
  readonly member: string;
  readonly threshold: number;
  readonly windowS: number;
}

/**
 * Anomaly detection over the answers the API gives, shared by every instance through Redis.
 *
 * Each counter is a sliding window kept as a sorted set: one member per event scored with its time
 * in ms; events older than the window are removed before counting. For `scraping` the member is
 * the object id, so reading one object again only refreshes its time and distinct objects are
 * counted. Hand-written on purpose: rate-limiter-flexible and the other maintained limiters count
 * fixed or token-bucket windows and cannot count distinct members, which is what scraping needs.
 *
 * Thresholds: a counter crosses when its count exceeds its threshold (count > threshold), so
 * `threshold` events within the window are always fine and the next one places the block. Each set
 * is trimmed to its newest threshold + 1 members, enough to see the crossing, so a flood cannot
 * grow Redis memory beyond that.
 *
 * A crossing places `SET benteng:abuse:block:<subject> <details> EX ABUSE_BLOCK_S NX`. NX makes the
 * block exclusive: when observations cross at once on several instances, exactly one of them
 * places it and reports it (for auditing), and a running block is not prolonged by the requests
 * that keep arriving.
 *
 * Fail mode: open, unlike the rate limiter. Detection is a second line: while Redis fails, the
 * rate limiter (with its per-instance insurance) and authentication still hold, whereas refusing
 * every request because anomaly counters are unreachable would turn a Redis outage into a full
 * outage. Failures are logged when they start and when they end.
 */
/**
 * The sliding-window counters of one observation: for each key, drop events older than its window,
 * add this one, trim to the newest `keep - 1` members, count, and renew the TTL (exactly the
 * ZREMRANGEBYSCORE, ZADD, ZREMRANGEBYRANK, ZCARD, PEXPIRE a MULTI would send).
 * KEYS: the counter keys. ARGV: now (ms), then per key: window (ms), member, keep.
 */
const COUNT_SCRIPT = `
local now = tonumber(ARGV[1])
local counts = {}
for i, key in ipairs(KEYS) do
  local at = 2 + (i - 1) * 3
  local window = tonumber(ARGV[at])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  redis.call('ZADD', key, now, ARGV[at + 1])
  redis.call('ZREMRANGEBYRANK', key, 0, -tonumber(ARGV[at + 2]))
  counts[i] = redis.call('ZCARD', key)
  redis.call('PEXPIRE', key, window)
end
return counts
`;

@Injectable()
export class AbuseDetector {
  private readonly logger = new Logger(AbuseDetector.name);
  private readonly script = new RedisScript(COUNT_SCRIPT);
  private degraded = false;

  constructor(
    @InjectRedis() private readonly redis: RedisClient,
    private readonly config: AppConfig,
  ) {}

  /** Counts one answered request; returns the blocks this very call placed (empty when none). */
  async observe(observation: AbuseObservation): Promise<PlacedBlock[]> {
    const counters = this.countersFor(observation);
    try {
      const counts = await this.count(counters);
      const crossings = firstCrossingPerSubject(counters, counts);
      const placed = await this.place(crossings, observation.ip);
      this.noteRecovery();
      return placed;
    } catch (error) {
      this.noteFailure('observe', error);
      return [];
    }
  }

  /**
   * The block in force for this client, if any. The principal's block wins over the IP's: it is
   * the more specific finding, and the one an operator would lift.
   */
  async blockedFor(ip: string | undefined, principal?: string, read?: GuardRead): Promise<ActiveBlock | undefined> {
    // The gate's one round trip (RateLimiter.consumeUnless) already read the principal's block key
    // (principalBlockKey) and its PTTL: judged here from that read, the same way as from our own.
    if (read !== undefined && ip === undefined && principal !== undefined) return activeBlock('principal', read.value, read.pttlMs, this.config.ABUSE_BLOCK_S);
    // One round trip for whichever of the two the caller asks about (the gate asks for the address
    // before authentication and for the principal after it, never for the address twice).
    const keys: [ActiveBlock['subject'], string][] = [];
    if (principal) keys.push(['principal', blockKey(principalSubject(principal))]);
    if (ip !== undefined) keys.push(['ip', blockKey(ipSubject(ip))]);
    if (keys.length === 0) return undefined;
    try {
      // The common answer (no block) costs one MGET; the remaining time is read only for a block
      // found (the rare case), in a second round trip. A block that expired in between reports
      // Retry-After 1 s (see retryAfterS).
      // The principal's and the address's block keys hash to different slots: getEach is one MGET
      // on a single Redis and pipelined GETs on a cluster.
      const values = await getEach(this.redis, keys.map(([, key]) => key));
      this.noteRecovery();
      for (const [index, [subject, key]] of keys.entries()) {
        const value = values[index];
        if (typeof value !== 'string') continue;
        return activeBlock(subject, value, await this.redis.pttl(key), this.config.ABUSE_BLOCK_S);
      }
      return undefined;
    } catch (error) {
      this.noteFailure('blockedFor', error);
      return undefined;
    }
  }

  /**
   * Places an explicit block on an address (an operator's deny entry): unlike the detector's own
   * blocks it refuses every request from the address, valid credentials included, until it expires
   * or is lifted. Replaces any automatic block there. Redis errors are passed on.
   */
  async deny(ip: string, seconds: number, by: string): Promise<void> {
    const details = JSON.stringify({ source: 'operator', by, blockedAt: new Date().toISOString() });
    await this.redis.set(blockKey(ipSubject(ip)), details, 'EX', Math.max(1, Math.ceil(seconds)));
  }

  /**
   * Ends a block early (an operator's decision). The counters stay, so a subject that carries on
   * is blocked again by its next crossing. Redis errors are passed on: the operator must know.
   */
  async lift(subject: { principal: string } | { ip: string }): Promise<boolean> {
    const key = blockKey('principal' in subject ? principalSubject(subject.principal) : ipSubject(subject.ip));
    return (await this.redis.del(key)) > 0;
  }

  /**
   * The object ids a principal touched recently, as the counters still hold them (incident view):
   * ids it asked for and got 404 (`not_found`, the newest ABUSE_MAX_NOT_FOUND + 1) and distinct
   * objects it read (`scraping`, the newest ABUSE_MAX_DISTINCT_OBJECTS + 1), within ABUSE_WINDOW_S.
   * Nothing older survives: the counters are trimmed, and the audit log does not record reads.
   */
  async recentObjects(principal: string): Promise<{ notFound: string[]; read: string[] }> {
    const since = Date.now() - this.config.ABUSE_WINDOW_S * 1000;
    const subject = principalSubject(principal);
    const replies = results(
      await this.redis
        .multi()
        .zrangebyscore(counterKey('not_found', subject), since, '+inf')
        .zrangebyscore(counterKey('scraping', subject), since, '+inf')
        .exec(),
    );
    const members = (reply: unknown): string[] => (Array.isArray(reply) ? reply.filter((m): m is string => typeof m === 'string') : []);
    // not_found members are `<ms>:<random>:<object id>` (or `<ms>:<random>` without an id).
    const notFound = members(replies[0])
      .map((m) => m.split(':').slice(2).join(':'))
      .filter((id) => id.length > 0);
    return { notFound: [...new Set(notFound)], read: members(replies[1]) };
  }

  private countersFor(observation: AbuseObservation): Counter[] {
    const { config } = this;
    const event = `${Date.now()}:${randomBytes(6).toString('hex')}`;
    const ip = ipBucket(observation.ip);
    const subjects: { key: string; subject: PlacedBlock['subject'] }[] = [];
    const principal = observation.principal || undefined;
    if (principal !== undefined) {
      subjects.push({
        key: principalSubject(principal),
        subject: { kind: 'principal', principal, ...(observation.tenantId === undefined ? {} : { tenantId: observation.tenantId }) },
      });
    }
    subjects.push({ key: ipSubject(observation.ip), subject: { kind: 'ip', ip } });

    const counters: Counter[] = [];
    // An address is shared by everyone behind one NAT or proxy (an office, a partner's egress), so
    // blocking it for one principal's misbehaviour would lock out their colleagues: the principal is
    // blocked at the threshold, while its address's counters allow SHARED_ADDRESS_FACTOR times as
    // much authenticated traffic (a crowd of principals misbehaving together still blocks the
    // address). Unauthenticated traffic is only known by its address and counts at the threshold.
    const each = (signal: AbuseSignal, threshold: number, windowS: number, who: typeof subjects, member = event) => {
      for (const { key, subject } of who) {
        const limit = subject.kind === 'ip' && principal !== undefined ? threshold * SHARED_ADDRESS_FACTOR : threshold;
        counters.push({ subjectKey: key, subject, signal, member, threshold: limit, windowS });
      }
    };
    const { status } = observation;
    each('burst', config.ABUSE_MAX_BURST, config.ABUSE_BURST_WINDOW_S, subjects);
    if (status === 404 && observation.objectRoute) {
      // The guessed id rides along in the (still unique) member, for the incident view (recentObjects).
      const member = observation.objectId ? `${event}:${observation.objectId}` : event;
      each('not_found', config.ABUSE_MAX_NOT_FOUND, config.ABUSE_WINDOW_S, subjects, member);
    }
    if (status === 401 || status === 403) each('auth_failure', config.ABUSE_MAX_AUTH_FAILURES, config.ABUSE_WINDOW_S, subjects);
    const read = status >= 200 && status < 300 && observation.objectRoute && observation.method.toUpperCase() === 'GET';
    if (read && principal !== undefined && observation.objectId) {
      counters.push({
        subjectKey: principalSubject(principal),
        subject: subjects[0]!.subject,
        signal: 'scraping',
        // The id itself: a repeated read replaces its member instead of adding one.
        member: observation.objectId,
        threshold: config.ABUSE_MAX_DISTINCT_OBJECTS,
        windowS: config.ABUSE_WINDOW_S,
      });
    }
    return counters;
  }

  /**
   * Every counter of one observation in one round trip, atomically; the count of each after adding.
   * One script call (COUNT_SCRIPT: the same five commands per counter that a MULTI would carry)
   * instead of a MULTI of 5 commands per counter: this runs after every answer, and building and
   * parsing 10-15 commands per request was a visible share of the API's CPU.
   */
  private async count(counters: Counter[]): Promise<number[]> {
    const now = Date.now();
    // Redis Cluster runs a script only over keys of one slot. A subject's counters share one (their
    // keys carry the subject as hash tag, see counterKey), the principal's and the address's do
    // not: on a cluster one script call per subject, sent in the same tick (auto-pipelined per
    // node); on a single Redis one call for all, as before. Atomic per subject either way, which is
    // all a crossing needs (each subject's threshold is judged on its own counters).
    const groups = isCluster(this.redis) ? groupBy(counters, (counter) => counter.subjectKey) : [counters.map((counter, index) => ({ counter, index }))];
    const counts = new Array<number>(counters.length);
    await Promise.all(
      groups.map(async (group) => {
        const args: (string | number)[] = [group.length];
        for (const { counter } of group) args.push(counterKey(counter.signal, counter.subjectKey));
        args.push(now);
        // Keeps the newest threshold + 1 members: enough to see a crossing, and no more memory.
        for (const { counter } of group) args.push(counter.windowS * 1000, counter.member, counter.threshold + 2);
        const replies = (await this.script.evalsha(this.redis, args)) as unknown[];
        group.forEach(({ index }, at) => (counts[index] = Number(replies[at])));
      }),
    );
    return counts;
  }

  /** Tries to place each block (SET NX, one round trip); returns those this call placed. */
  private async place(crossings: { counter: Counter; observed: number }[], ip: string): Promise<PlacedBlock[]> {
    if (crossings.length === 0) return [];
    const blockS = this.config.ABUSE_BLOCK_S;
    const blockedAt = new Date().toISOString();
    const sets = crossings.map(({ counter, observed }) => {
      const details = JSON.stringify({ source: DETECTOR_SOURCE, signal: counter.signal, observed, threshold: counter.threshold, windowS: counter.windowS, blockedAt });
      return [blockKey(counter.subjectKey), details] as const;
    });
    let replies: unknown[];
    if (isCluster(this.redis)) {
      // The blocks of a principal and of an address live in different slots, so no MULTI: each
      // SET NX stands alone (and is exclusive on its own), pipelined in one tick.
      const redis = this.redis;
      replies = await Promise.all(sets.map(([key, details]) => redis.set(key, details, 'EX', blockS, 'NX')));
    } else {
      const multi = this.redis.multi();
      for (const [key, details] of sets) multi.set(key, details, 'EX', blockS, 'NX');
      replies = results(await multi.exec());
    }
    return crossings
      .filter((_, index) => replies[index] === 'OK')
      .map(({ counter, observed }) => ({
        subject: counter.subject,
        signal: counter.signal,
        observed,
        threshold: counter.threshold,
        windowS: counter.windowS,
        blockS,
        ip,
      }));
  }

  private noteFailure(operation: string, error: unknown): void {
    if (this.degraded) return;
    this.degraded = true;
    const reason = error instanceof Error ? error.message : 'unknown error';
    this.logger.warn(`Redis unavailable in ${operation} (${reason}): abuse detection is off until it answers again`);
  }

  private noteRecovery(): void {
    if (!this.degraded) return;
    this.degraded = false;
    this.logger.log('Redis available again: abuse detection is back on');
  }
}

/** Per subject, the crossing of the highest-priority signal: one block per subject and observation. */
function firstCrossingPerSubject(counters: Counter[], counts: number[]): { counter: Counter; observed: number }[] {
  const bySubject = new Map<string, { counter: Counter; observed: number }>();
  const rank = (signal: AbuseSignal) => SIGNAL_PRIORITY.indexOf(signal);
  counters.forEach((counter, index) => {
    const observed = counts[index]!;
    if (observed <= counter.threshold) return;
    const current = bySubject.get(counter.subjectKey);
    if (!current || rank(counter.signal) < rank(current.counter.signal)) bySubject.set(counter.subjectKey, { counter, observed });
  });
  return [...bySubject.values()];
}

/** The replies of a MULTI, or the first error among them (ioredis resolves per-command errors). */
function results(replies: [Error | null, unknown][] | null): unknown[] {
  if (replies === null) throw new Error('Redis transaction aborted');
  return replies.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}

/**
 * Only a value the detector wrote (JSON with `source: 'detector'`) is automatic. Anything else under
 * a block key, an operator's entry, a value set by hand or one that cannot be read, is explicit:
 * when in doubt the block keeps its full effect (fails closed).
 */
function sourceOf(value: string): BlockSource {
  try {
    return (JSON.parse(value) as { source?: unknown }).source === DETECTOR_SOURCE ? 'detector' : 'explicit';
  } catch {
    return 'explicit';
  }
}

function activeBlock(subject: ActiveBlock['subject'], value: string | null, pttl: unknown, blockS: number): ActiveBlock | undefined {
  if (typeof value !== 'string') return undefined;
  return { subject, signal: signalOf(value), source: sourceOf(value), retryAfterS: retryAfterS(pttl, blockS) };
}

function signalOf(value: string): AbuseSignal {
  try {
    const signal: unknown = (JSON.parse(value) as { signal?: unknown }).signal;
    if (SIGNALS.includes(signal as AbuseSignal)) return signal as AbuseSignal;
  } catch {
    // Fall through: a block whose details cannot be read is still a block.
  }
  return 'burst';
}

/**
 * Seconds until the block ends; a key without TTL (set by hand, PTTL -1) is reported as a full
 * block, one that expired since it was read (PTTL -2) as 1 s.
 */
function retryAfterS(pttl: unknown, blockS: number): number {
  const ms = Number(pttl);
  if (ms === -2) return 1;
  if (!(ms > 0)) return blockS;
  return Math.max(1, Math.ceil(ms / 1000));
}

/**
 * `benteng:abuse:<signal>:{<subject>}`: hash-tagged by subject, so that on Redis Cluster every
 * counter of one principal (or one address) is in one slot, where COUNT_SCRIPT can update them in
 * one call and `recentObjects` read two of them in one MULTI.
 */
function counterKey(signal: AbuseSignal, subjectKey: string): string {
  return `${ABUSE_KEY_PREFIX}${signal}:${hashTag(subjectKey)}`;
}

/** The counters of each subject, with their positions in the original list. */
function groupBy(counters: Counter[], by: (counter: Counter) => string): { counter: Counter; index: number }[][] {
  const groups = new Map<string, { counter: Counter; index: number }[]>();
  counters.forEach((counter, index) => {
    const key = by(counter);
    groups.set(key, [...(groups.get(key) ?? []), { counter, index }]);
  });
  return [...groups.values()];
}

function blockKey(subjectKey: string): string {
  return `${ABUSE_KEY_PREFIX}block:${subjectKey}`;
}

/** The key of a principal's block, for the gate's one round trip (RateLimiter.consumeUnless). */
export function principalBlockKey(principal: string): string {
  return blockKey(principalSubject(principal));
}

function principalSubject(principal: string): string {
  return `principal:${principal}`;
}

function ipSubject(ip: string): string {
  return `ip:${ipBucket(ip)}`;
}
