import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Test } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppConfig, loadConfig } from '@benteng/config';
import { projectRoot } from '@benteng/database';
import { WorkerModule } from '../../apps/worker/src/worker.module.js';
import { buildApi, type TestApi } from '../support/api.js';
import { ownerPool } from '../support/db.js';
import { createTenant, insertInvoice } from '../support/factories.js';
import { PublicClient, setPasswords, testPassword } from '../support/public-api.js';
import { obliterateQueues, uniqueQueuePrefix } from '../support/worker.js';

/**
 * Which production files run for one request (docs/architecture.md, "Two requests, file by file").
 * Not a test: `npx vitest run --config test/tools/vitest.tools.config.ts` writes
 * .data/request-paths.json. V8's precise coverage (call counts, reset at every take) is read around a
 * warm request; the files under apps/ and libs/ with a function that ran are the request's, minus
 * those that also ran in an idle window of the same length (timers: outbox polling, deferred audit
 * flushes). The API and the worker run in this process, as apps/api/src/main.ts and
 * apps/worker/src/main.ts build them.
 */
const root = projectRoot();
const owner = ownerPool();
const prefix = uniqueQueuePrefix('trace');

async function production(session: Session): Promise<Set<string>> {
  const { result } = await session.post('Profiler.takePreciseCoverage');
  const files = new Set<string>();
  for (const script of result) {
    if (!script.url.startsWith('file://')) continue;
    const path = relative(root, fileURLToPath(script.url.split('?')[0]!));
    // Barrels (index.ts) only re-export: their getters run, but nobody reads them to follow a request.
    if (!/^(apps|libs)\//.test(path) || path.includes('/generated/') || path.endsWith('.spec.ts') || path.endsWith('/index.ts')) continue;
    if (script.functions.some((f) => f.ranges.some((r) => r.count > 0))) files.add(path);
  }
  return files;
}

describe('request paths', () => {
  let api: TestApi;
  let worker: { close(): Promise<void> };
  const session = new Session();

  beforeAll(async () => {
    // No timers in the measured windows: no outbox relay or sweeper, no platform cleanup.
    const env = { QUEUE_PREFIX: prefix, OUTBOX_RELAY_ENABLED: 'false', PLATFORM_CLEANUP_INTERVAL_S: '86400' };
    api = await buildApi({ env });
    const moduleRef = await Test.createTestingModule({ imports: [WorkerModule] })
      .overrideProvider(AppConfig)
      .useValue(loadConfig({ ...process.env, ...env }))
      .compile();
    await moduleRef.init();
    worker = moduleRef;
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  });

  afterAll(async () => {
    await worker?.close();
    await api?.close();
    await obliterateQueues(prefix);
  });

  it('traces GET /v1/invoices/:id and POST /v1/exports → worker → download', { timeout: 120_000 }, async () => {
    const tenant = await createTenant(owner, 'trace');
    const password = testPassword();
    await setPasswords(owner, [tenant.users.owner.id], password);
    const client = new PublicClient(api);
    const token = (await client.login(tenant.users.owner.email, password)).accessToken;
    const auth = { token };
    const invoice = await insertInvoice(owner, tenant.id, { number: 'TRACE-1', createdById: tenant.users.owner.id });

    const idle = async (ms: number) => {
      await production(session);
      await new Promise((r) => setTimeout(r, ms));
      return production(session);
    };
    const exportOnce = async () => {
      const created = await client.call('POST', '/v1/exports', { ...auth, body: { type: 'invoices', format: 'csv' } });
      const id = (created.body as { id: string }).id;
      for (let i = 0; i < 200; i++) {
        const status = await client.call('GET', `/v1/exports/${id}`, auth);
        if ((status.body as { status: string }).status === 'completed') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const file = await client.call('GET', `/v1/exports/${id}/content`, auth);
      if (file.status !== 200) throw new Error(`export download: ${file.status}`);
    };

    // Warm: first calls load modules and fill caches that a steady request does not touch.
    await client.call('GET', `/v1/invoices/${invoice}`, auth);
    await exportOnce();

    await production(session);
    let started = Date.now();
    const read = await client.call('GET', `/v1/invoices/${invoice}`, auth);
    if (read.status !== 200) throw new Error(`invoice read: ${read.status}`);
    await new Promise((r) => setTimeout(r, 200));
    const readFiles = await production(session);
    const readIdle = await idle(Date.now() - started);

    await production(session);
    started = Date.now();
    await exportOnce();
    const exportFiles = await production(session);
    const exportIdle = await idle(Date.now() - started);

    const minus = (a: Set<string>, b: Set<string>) => [...a].filter((f) => !b.has(f)).sort();
    const report = { read: minus(readFiles, readIdle), export: minus(exportFiles, exportIdle) };
    writeFileSync(`${root}/.data/request-paths.json`, `${JSON.stringify({ ...report, counts: { read: report.read.length, export: report.export.length } }, null, 2)}\n`);
    // The instrument itself works: each path contains the files it cannot do without.
    expect(report.read).toEqual(expect.arrayContaining(['apps/api/src/public/invoices.controller.ts', 'libs/invoices/src/invoices.repository.ts', 'libs/database/src/tenant-database.ts']));
    expect(report.export).toEqual(expect.arrayContaining(['apps/api/src/public/exports.controller.ts', 'libs/exports/src/export-run.handler.ts', 'libs/jobs/src/job-signer.ts']));
  });
});
