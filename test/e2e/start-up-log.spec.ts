import { afterAll, describe, expect, it } from 'vitest';
import { buildApi, buildInternalApi, type TestApi } from '../support/api.js';
import { API_ENTRY, startCompiled, startWorker, type WorkerProcess } from '../support/worker.js';
import { freePort } from '../support/net.js';

/**
 * Start-up output (issue 17, item 9): Nest lists every module ("… dependencies initialized"),
 * controller and route ("Mapped {/v1/…, GET} route") as it wires them, about 200 lines per start.
 * libs/common/src/start-up-logger.ts moves that listing to debug: at LOG_LEVEL=info a start shows
 * only what an operator needs; at debug the listing is back.
 */
const LISTING = /^Mapped \{|dependencies initialized$| \{[^}]*\}:?$/;
const listing = (lines: Record<string, unknown>[]) => lines.filter((l) => typeof l.msg === 'string' && LISTING.test(l.msg));

describe('start-up log', () => {
  const apps: TestApi[] = [];
  const processes: WorkerProcess[] = [];
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    await Promise.all(processes.map((p) => p.stop()));
  });

  it('an app started at LOG_LEVEL=info logs no module or route listing; at debug it does, as debug lines', async () => {
    const info = await buildApi({ logLevel: 'info', ownLogger: true });
    apps.push(info);
    const infoInternal = await buildInternalApi({ logLevel: 'info', ownLogger: true });
    apps.push(infoInternal);
    expect(listing(info.logs.lines)).toEqual([]);
    expect(listing(infoInternal.logs.lines)).toEqual([]);

    const debug = await buildApi({ logLevel: 'debug', ownLogger: true });
    apps.push(debug);
    const mapped = debug.logs.lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('Mapped {'));
    // (The testing module logs its "dependencies initialized" lines before the app has its logger;
    // the compiled processes below show those.)
    expect(mapped.length).toBeGreaterThan(20);
    // pino's debug level (20), with Nest's context kept.
    expect(new Set(mapped.map((l) => l.level))).toEqual(new Set([20]));
    expect(new Set(mapped.map((l) => l.context))).toEqual(new Set(['RouterExplorer']));
  });

  it('the compiled API and worker (what npm start runs) print a short start-up at LOG_LEVEL=info', async () => {
    const [port, internalPort] = [await freePort(), await freePort()];
    const api = startCompiled(API_ENTRY, { HOST: '127.0.0.1', PORT: String(port), INTERNAL_HOST: '127.0.0.1', INTERNAL_PORT: String(internalPort), LOG_LEVEL: 'info' });
    processes.push(api);
    const worker = startWorker({ LOG_LEVEL: 'info' });
    processes.push(worker);
    const deadline = Date.now() + 45_000;
    while (!(await fetch(`http://127.0.0.1:${port}/health/live`).then((r) => r.ok, () => false))) {
      if (Date.now() > deadline) throw new Error(`the compiled API did not start:\n${api.output().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    await worker.waitFor('worker ready', 30_000);
    for (const [name, proc] of [['api', api], ['worker', worker]] as const) {
      expect(listing(proc.lines()), `${name}`).toEqual([]);
      expect(proc.output(), `${name}`).not.toMatch(/Mapped \{|dependencies initialized/);
      // A start-up an operator can read: a few lines, not one per module and route. The worker
      // starts the scheduled platform jobs at once, and their runs log as they go (lines with a
      // jobId, as many as the shared test database gives them work): those are not the start-up.
      const startUp = proc.lines().filter((line) => line.jobId === undefined);
      expect(startUp.length, `${name}:\n${proc.output()}`).toBeLessThan(25);
      expect(startUp.length, `${name}`).toBeGreaterThan(2);
    }
    // The same processes at debug list their modules again (the listing moved, it did not vanish).
    const debugWorker = startWorker({ LOG_LEVEL: 'debug' });
    processes.push(debugWorker);
    await debugWorker.waitFor('worker ready', 30_000);
    const modules = debugWorker.lines().filter((l) => typeof l.msg === 'string' && l.msg.endsWith('dependencies initialized'));
    expect(modules.length).toBeGreaterThan(5);
    expect(new Set(modules.map((l) => l.level))).toEqual(new Set([20]));
  });
});
