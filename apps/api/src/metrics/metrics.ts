import { Global, Injectable, Module, type OnModuleDestroy } from '@nestjs/common';
import { Queue } from 'bullmq';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { Clock } from '@benteng/common';
import { AppConfig, dataEncryptionKeys, internalServiceKeys, jobSigningKeys, keyMaxAgeS, keyRingRootKeys, kidDate, type KeyAgeFamily } from '@benteng/config';
import { KeyRingRepository, KEY_FAMILIES, PrismaService } from '@benteng/database';
import { JOBS_QUEUE, PLATFORM_QUEUE } from '@benteng/jobs';
import { queueConnection } from '@benteng/redis';
import { surfaceOf } from '../http/route-catalog.js';

/** Requests no route matched: one label value, never the raw URL (unbounded cardinality, and ids). */
export const UNMATCHED_ROUTE = '(unmatched)';

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'] as const;

/**
 * The process's Prometheus metrics: one prom-client Registry per process, shared by the public
 * and the internal application that apps/api/src/main.ts creates side by side. The two are
 * separate Nest containers, so the registry lives at module scope (a per-container provider would
 * give each app its own, empty, registry); MetricsModule hands the same object to both.
 *
 * The public app records (HTTP hooks in app.factory.ts, AccessGuard, AbuseObserver); the internal
 * app records its own requests and serves GET /internal/metrics (metrics.controller.ts).
 * Labels are bounded: surface, route pattern (routeOptions.url), method, status, principal class.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'benteng_http_requests_total',
    help: 'HTTP requests answered, by surface, route pattern, method and status.',
    labelNames: ['surface', 'route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'benteng_http_request_duration_seconds',
    help: 'HTTP request latency in seconds, by surface, route pattern, method and status.',
    labelNames: ['surface', 'route', 'method', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly authFailures = new Counter({
    name: 'benteng_auth_failures_total',
    help: 'Requests answered 401, by surface.',
    labelNames: ['surface'] as const,
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: 'benteng_rate_limit_refusals_total',
    help: 'Requests refused with 429 by the rate limiter, by surface and principal class.',
    labelNames: ['surface', 'principal_class'] as const,
    registers: [this.registry],
  });
  readonly blockedRequests = new Counter({
    name: 'benteng_blocked_requests_total',
    help: 'Requests refused because their address or principal is blocked by the abuse detector, by surface.',
    labelNames: ['surface'] as const,
    registers: [this.registry],
  });
  readonly blocksPlaced = new Counter({
    name: 'benteng_abuse_blocks_placed_total',
    help: 'Blocks placed by the abuse detector, by signal.',
    labelNames: ['signal'] as const,
    registers: [this.registry],
  });
  readonly queueJobs = new Gauge({
    name: 'benteng_queue_jobs',
    help: 'BullMQ jobs by queue and state, read when scraped.',
    labelNames: ['queue', 'state'] as const,
    registers: [this.registry],
  });
  readonly queueScrapeErrors = new Counter({
    name: 'benteng_queue_scrape_errors_total',
    help: 'Scrapes whose queue depth read failed (Redis unavailable), by queue.',
    labelNames: ['queue'] as const,
    registers: [this.registry],
  });

  readonly keyAge = new Gauge({
    name: 'benteng_key_age_seconds',
    help: 'Age of the key that signs or encrypts now, by key family (key ring: since it started signing; environment keys: from the date in the kid), read when scraped.',
    labelNames: ['family'] as const,
    registers: [this.registry],
  });
  readonly keyMaxAge = new Gauge({
    name: 'benteng_key_max_age_seconds',
    help: 'Key-age policy of each key family: the scheduled rotation replaces a ring key this old; environment keys are rotated by deploying (alert on benteng_key_age_seconds above it).',
    labelNames: ['family'] as const,
    registers: [this.registry],
  });
  readonly staleSealedValues = new Gauge({
    name: 'benteng_data_encryption_stale_values',
    help: 'Stored values (webhook secrets) sealed under a DATA_ENCRYPTION_KEYS key other than the active one, by kid, read when scraped: the re-encryption job brings it to 0, then the key may be removed.',
    labelNames: ['kid'] as const,
    registers: [this.registry],
  });
  readonly keyRingScrapeErrors = new Counter({
    name: 'benteng_key_ring_scrape_errors_total',
    help: 'Scrapes whose key ring read failed (database unavailable); the key age keeps its last value.',
    registers: [this.registry],
  });

  /** Fastify onResponse: one count and one latency sample per answered request. */
  observeHttp(request: FastifyRequest, reply: FastifyReply): void {
    const route = request.routeOptions.url;
    const surface = surfaceOfRequest(request);
    const labels = { surface, route: route ?? UNMATCHED_ROUTE, method: request.method, status: String(reply.statusCode) };
    this.httpRequests.inc(labels);
    this.httpDuration.observe(labels, reply.elapsedTime / 1000);
    if (reply.statusCode === 401) this.authFailures.inc({ surface });
  }
}

/** The surface of a request: from its route pattern, else (no route matched) from its path. */
export function surfaceOfRequest(request: FastifyRequest): string {
  return surfaceOf(request.routeOptions.url ?? request.url.split('?')[0] ?? '/');
}

/** The one Metrics object of this process. */
export const processMetrics = new Metrics();

/**
 * Queue depths for the scrape: getJobCounts on 'jobs' and 'platform', through the queues' own
 * connection (REDIS_URL, prefix QUEUE_PREFIX, as the worker uses them). Read only: nothing is
 * added to or removed from a queue here.
 */
@Injectable()
export class QueueDepths implements OnModuleDestroy {
  private queues: Queue[] | undefined;
  private closeConnection: () => Promise<void> = async () => undefined;

  constructor(
    private readonly config: AppConfig,
    private readonly metrics: Metrics,
  ) {}

  async refresh(): Promise<void> {
    if (!this.queues) {
      const { connection, prefix, close } = queueConnection(this.config, { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectionName: 'benteng-metrics' });
      this.closeConnection = close;
      this.queues = [JOBS_QUEUE, PLATFORM_QUEUE].map((name) => new Queue(name, { connection, prefix }));
    }
    await Promise.all(
      this.queues.map(async (queue) => {
        try {
          const counts = await queue.getJobCounts(...QUEUE_STATES);
          for (const state of QUEUE_STATES) this.metrics.queueJobs.set({ queue: queue.name, state }, counts[state] ?? 0);
        } catch {
          this.metrics.queueScrapeErrors.inc({ queue: queue.name });
        }
      }),
    );
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all((this.queues ?? []).map((queue) => queue.close()));
    await this.closeConnection();
  }
}

/**
 * Key ages for the scrape (docs/operations.md, "Key rotation"), each beside its family's policy
 * (`benteng_key_max_age_seconds`, keyMaxAgeS):
 * - the key ring's families (`access-token`, `job-envelope`): the age of the ring's active key since
 *   it started signing; without one, the age of the environment key that signs instead when its kid
 *   carries its date (`job-envelope`: JOB_SIGNING_KEYS' first key), else no series;
 * - the environment families, rotated by deploying (`data-encryption`: the active
 *   DATA_ENCRYPTION_KEYS key; `internal-signature`: for each internal caller its newest key, and the
 *   oldest of those), aged from the date in the kid `keys:rotate` writes (`kYYYYMMDD-…`); a key
 *   whose kid has no date has no age, so no series.
 */
@Injectable()
export class KeyAges {
  constructor(
    private readonly ring: KeyRingRepository,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly metrics: Metrics,
  ) {}

  async refresh(): Promise<void> {
    const now = this.clock.now();
    const set = (family: string, since: Date | undefined) => {
      this.metrics.keyMaxAge.set({ family }, keyMaxAgeS(this.config, family as KeyAgeFamily));
      if (since) this.metrics.keyAge.set({ family }, Math.max(0, (now.getTime() - since.getTime()) / 1000));
      else this.metrics.keyAge.remove({ family });
    };
    const root = keyRingRootKeys(this.config);
    for (const family of KEY_FAMILIES) {
      const envKid = family === 'job-envelope' && this.config.JOB_SIGNING_KEYS ? jobSigningKeys(this.config).active.kid : undefined;
      if (!root) {
        if (envKid) set(family, kidDate(envKid));
        continue;
      }
      try {
        const active = (await this.ring.entries(family)).find((r) => r.state === 'active' && root.find(r.rootKid) !== undefined);
        set(family, active ? (active.activatedAt ?? active.createdAt) : envKid ? kidDate(envKid) : undefined);
      } catch {
        this.metrics.keyRingScrapeErrors.inc();
      }
    }
    if (this.config.DATA_ENCRYPTION_KEYS) set('data-encryption', kidDate(dataEncryptionKeys(this.config).active.kid));
    if (this.config.INTERNAL_SERVICE_KEYS) {
      const newest = new Map<string, Date | undefined>();
      for (const key of internalServiceKeys(this.config).keys.values()) {
        const date = kidDate(key.kid);
        const known = newest.get(key.service);
        if (!newest.has(key.service) || (date && (!known || date > known))) newest.set(key.service, date);
      }
      const dates = [...newest.values()];
      // Every caller's newest key must carry a date for the family to have an age.
      set('internal-signature', dates.length > 0 && dates.every((d) => d) ? new Date(Math.min(...dates.map((d) => d!.getTime()))) : undefined);
    }
  }
}

/**
 * The re-encryption backlog for the scrape (docs/operations.md, "Key rotation"): per kid other than
 * the active DATA_ENCRYPTION_KEYS key, how many stored values it still seals
 * (`data_encryption_sealed_counts()`, prisma/migrations/20261207152500_data_reencryption). A kid
 * that seals nothing any more has no series. A failed read keeps the last values and counts an
 * error in benteng_key_ring_scrape_errors_total.
 */
@Injectable()
export class StaleSealedValues {
  constructor(
    private readonly prisma: PrismaService,
    private readonly config: AppConfig,
    private readonly metrics: Metrics,
  ) {}

  async refresh(): Promise<void> {
    const active = dataEncryptionKeys(this.config).active.kid;
    try {
      const rows = await this.prisma.client.$queryRaw<{ kid: string; sealed: bigint }[]>`SELECT kid, sealed FROM data_encryption_sealed_counts()`;
      this.metrics.staleSealedValues.reset();
      for (const row of rows) if (row.kid !== active) this.metrics.staleSealedValues.set({ kid: row.kid }, Number(row.sealed));
    } catch {
      this.metrics.keyRingScrapeErrors.inc();
    }
  }
}

/** Gives every Nest application of the process the same Metrics object. */
@Global()
@Module({
  providers: [{ provide: Metrics, useValue: processMetrics }],
  exports: [Metrics],
})
export class MetricsModule {}
