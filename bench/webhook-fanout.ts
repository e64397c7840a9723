// Webhook fan-out (issue 9, part 3): deliveries per second from the real worker process(es) to a
// local receiver on 127.0.0.1, with signing on (Standard Webhooks; the receiver verifies every
// 10th delivery with the `standardwebhooks` package and counts failures).
// E endpoints of one tenant subscribe to `invoice.paid`; M events are appended to the outbox in
// one INSERT; the clock runs from that commit until the receiver has seen all M x E distinct
// webhook-ids (the outbox relay, the delivery jobs, the signed POSTs and the delivery log writes
// are all inside it). A small batch first warms the worker up.
// Tunables: BENCH_WEBHOOK_EVENTS (300), BENCH_WEBHOOK_ENDPOINTS (10), BENCH_WEBHOOK_WORKERS (1),
// BENCH_WEBHOOK_TIMEOUT_S (120), BENCH_WORKER_NODE_ARGS (none).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Webhook } from 'standardwebhooks';
import {
  appEnv,
  appSecrets,
  benchRedisUrl,
  call,
  cpuMs,
  expectStatus,
  intFromEnv,
  logger,
  login,
  machine,
  openBenchDb,
  printTable,
  QUICK,
  round1,
  seedTenants,
  startApi,
  startNode,
  tenantId,
  writeResult,
  type ApiProcess,
  type NodeProcess,
} from './lib/harness.js';

const log = logger('webhook-fanout');
const T = 12;
const EVENTS = intFromEnv('BENCH_WEBHOOK_EVENTS', QUICK ? 50 : 300, 1, 100_000);
const ENDPOINTS = intFromEnv('BENCH_WEBHOOK_ENDPOINTS', 10, 1, 100);
const WORKERS = intFromEnv('BENCH_WEBHOOK_WORKERS', 1, 1, 8);
const TIMEOUT_MS = intFromEnv('BENCH_WEBHOOK_TIMEOUT_S', 120, 10, 600) * 1000;

class Receiver {
  readonly seen = new Set<string>();
  verified = 0;
  invalid = 0;
  firstAt = 0;
  lastAt = 0;
  private n = 0;
  readonly secrets = new Map<string, Webhook>();
  private constructor(private readonly server: Server) {}

  static async start(): Promise<Receiver> {
    let receiver!: Receiver;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        receiver.receive(req.url ?? '/', req.headers as Record<string, string>, Buffer.concat(chunks).toString('utf8'));
        res.writeHead(204).end();
      });
    });
    receiver = new Receiver(server);
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  private receive(path: string, headers: Record<string, string>, body: string): void {
    const id = headers['webhook-id'];
    if (!id) return;
    const now = performance.now();
    this.firstAt ||= now;
    this.lastAt = now;
    this.seen.add(`${path} ${id}`);
    if (this.n++ % 10 === 0) {
      try {
        this.secrets.get(path)!.verify(body, headers);
        this.verified++;
      } catch {
        this.invalid++;
      }
    }
  }

  reset(): void {
    this.seen.clear();
    this.firstAt = 0;
    this.lastAt = 0;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

async function main(): Promise<void> {
  const db = await openBenchDb(log);
  let api: ApiProcess | undefined;
  const workers: NodeProcess[] = [];
  const receiver = await Receiver.start();
  try {
    await seedTenants(db, [{ t: T, invoices: 0, linesPerInvoice: 0 }], log);
    const tenant = tenantId(T);
    // Endpoints (and their deliveries) of an earlier run go; old events are marked published.
    await db.owner.query('DELETE FROM webhook_endpoints WHERE tenant_id = $1', [tenant]);
    await db.owner.query('UPDATE domain_events SET published_at = now() WHERE tenant_id = $1 AND published_at IS NULL', [tenant]);

    const redisUrl = await benchRedisUrl(db.config);
    const env = appEnv(db, redisUrl, await appSecrets(), {
      EGRESS_ALLOW_PRIVATE: '127.0.0.1/32',
      OUTBOX_POLL_INTERVAL_MS: '100',
      OUTBOX_RELAY_ENABLED: 'true',
      RATE_LIMIT_POLICY: JSON.stringify({ user: { write: [10_000, 60] } }),
    });
    api = await startApi('api', env);
    // BENCH_WORKER_NODE_ARGS: Node options for the workers, for experiments (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p").
    const nodeArgs = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
    for (let k = 0; k < WORKERS; k++) workers.push(startNode(`worker-${k + 1}`, 'apps/worker/src/main.js', env, nodeArgs));
    const deadline = Date.now() + 60_000;
    while (!workers.every((w) => /worker ready/i.test(w.tail()))) {
      const dead = workers.find((w) => w.exited());
      if (dead || Date.now() > deadline) throw new Error(`worker did not start:\n${(dead ?? workers[0]!).tail()}`);
      await sleep(100);
    }

    const { accessToken } = await login(api.base, T);
    for (let e = 0; e < ENDPOINTS; e++) {
      const path = `/hook-${e}`;
      const created = await expectStatus(
        call(api.base, 'POST', '/v1/webhook-endpoints', { token: accessToken, body: { url: `http://127.0.0.1:${receiver.port}${path}`, events: ['invoice.paid'] } }),
        201,
        'create webhook endpoint',
      );
      receiver.secrets.set(path, new Webhook(created.secret as string));
    }

    const emit = async (count: number): Promise<number> => {
      await db.owner.query(
        `INSERT INTO domain_events (tenant_id, id, type, subject_type, subject_id, payload)
         SELECT $1, gen_random_uuid(), 'invoice.paid', 'invoice', gen_random_uuid(),
                jsonb_build_object('id', gen_random_uuid(), 'number', 'INV-' || g, 'status', 'paid', 'totalMinor', (g * 1000)::text)
           FROM generate_series(1, $2::int) AS g`,
        [tenant, count],
      );
      return performance.now();
    };
    const waitFor = async (expected: number): Promise<boolean> => {
      const until = performance.now() + TIMEOUT_MS;
      while (receiver.seen.size < expected && performance.now() < until) await sleep(20);
      return receiver.seen.size >= expected;
    };

    // Warm-up.
    const warm = Math.min(20, EVENTS);
    await emit(warm);
    if (!(await waitFor(warm * ENDPOINTS))) throw new Error(`warm-up: ${receiver.seen.size} of ${warm * ENDPOINTS} deliveries arrived`);
    receiver.reset();

    const expected = EVENTS * ENDPOINTS;
    const cpu0 = workers.reduce((a, w) => a + cpuMs(w.pid), 0);
    const committedAt = await emit(EVENTS);
    const complete = await waitFor(expected);
    const delivered = receiver.seen.size;
    const workerCpuMs = workers.reduce((a, w) => a + cpuMs(w.pid), 0) - cpu0;
    const wallMs = (complete ? receiver.lastAt : performance.now()) - committedAt;
    const perSecond = delivered / (wallMs / 1000);
    const steady = receiver.lastAt > receiver.firstAt ? delivered / ((receiver.lastAt - receiver.firstAt) / 1000) : Number.NaN;
    const failed = (await db.owner.query<{ n: number }>("SELECT count(*)::int AS n FROM webhook_deliveries WHERE tenant_id = $1 AND status = 'failed'", [tenant])).rows[0]!.n;

    const summary = {
      events: EVENTS,
      endpoints: ENDPOINTS,
      workers: WORKERS,
      deliveriesExpected: expected,
      deliveriesReceived: delivered,
      complete,
      wallMs: round1(wallMs),
      deliveriesPerSecond: round1(perSecond),
      deliveriesPerSecondFirstToLast: round1(steady),
      firstDeliveryAfterMs: round1(receiver.firstAt - committedAt),
      signaturesVerified: receiver.verified,
      signaturesInvalid: receiver.invalid,
      deliveriesFailed: failed,
      /** Worker CPU (all workers) per delivery received: with deliveries/s, shows whether CPU or waiting bounds the rate. */
      workerCpuMsPerDelivery: round1(workerCpuMs / Math.max(1, delivered)),
    };
    process.stdout.write('\n');
    printTable(
      ['fan-out', 'deliveries', 'wall ms', 'deliveries/s', 'first-to-last /s', 'first after ms', 'worker CPU ms/delivery', 'bad signatures'],
      [
        [
          `${EVENTS} events x ${ENDPOINTS} endpoints, ${WORKERS} worker(s)`,
          `${delivered}/${expected}`,
          wallMs.toFixed(0),
          perSecond.toFixed(0),
          steady.toFixed(0),
          summary.firstDeliveryAfterMs.toFixed(0),
          summary.workerCpuMsPerDelivery.toFixed(1),
          String(receiver.invalid),
        ],
      ],
    );
    log(`target >= 1000 deliveries/s: ${perSecond >= 1000 ? 'met' : 'NOT met'} (${perSecond.toFixed(0)})`);
    await writeResult('webhook-fanout', {
      benchmark: 'webhook-fanout',
      generatedAt: new Date().toISOString(),
      machine: machine(db.postgresVersion),
      settings: {
        events: EVENTS,
        endpoints: ENDPOINTS,
        workers: WORKERS,
        receiver: 'node:http on 127.0.0.1 in the bench process, answers 204 at once, verifies every 10th signature',
        clock: 'outbox INSERT committed -> last distinct delivery received',
        quick: QUICK,
      },
      summary,
      targets: { 'deliveries/s >= 1000': { met: perSecond >= 1000, value: round1(perSecond) } },
    });
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await api?.stop();
    await receiver.close();
    await db.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench webhook-fanout failed: ${(error as Error).stack ?? error}\n`);
  process.exitCode = 1;
});
