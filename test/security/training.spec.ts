import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@benteng/config';
import { dropDatabase, projectRoot } from '@benteng/database';
import { LAB_HEADER, markLab } from '../../apps/lab/src/lab-app.js';
import { LAB_REMOVALS } from '../../apps/lab/src/removals.js';
import { RouteInventory, RouteInventoryError } from '../../apps/api/src/http/route-inventory.js';
import { DEFAULT_DEMO_PASSWORD, seed } from '../../prisma/seed.js';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { buildApi, buildInternalApi, type TestApi } from '../support/api.js';
import { buildWorker } from './kill-switches/async.js';
import { freePort } from '../support/net.js';
import { EXERCISES, type Exercise } from './training/exercises.js';
import { DEMO_ENV, departures, listening, runCommands } from './training/run.js';

/**
 * The training lab (issue 22): every exercise of docs/training/ runs its commands verbatim, with
 * bash and curl, against the application with the control removed exactly as `npm run lab` removes
 * it (apps/lab/src/removals.ts, the kill-switch suite's seam) and against the normal application,
 * both seeded as the demo; each run must print what the exercise documents. Then the lab's own
 * command line (`npm run lab`) is started for real once, and the production build and image are
 * shown not to contain the lab.
 * (test/security/training/run.ts runs the commands.)
 */
const root = projectRoot();
const node = process.execPath;

/** The demo operator's id ($OPERATOR of the internal-listener exercises), from the seed. */
let operator = '';
beforeAll(async () => {
  operator = (await seed(loadConfig(), DEFAULT_DEMO_PASSWORD)).operatorId!;
}, 60_000);

/** The listener an exercise attacks, with the control removed or not, listening on a free port. */
async function target(exercise: Exercise, lab: boolean): Promise<{ api: TestApi; base: string; variables: Record<string, string>; close(): Promise<void> }> {
  const removal = LAB_REMOVALS[exercise.control]!;
  // The worker, when the exercise needs one, on a queue prefix of its own that the API then uses.
  const worker = exercise.worker ? await buildWorker({ overrides: lab ? [...(removal.worker ?? [])] : [], env: { ...DEMO_ENV, ...exercise.env } }) : undefined;
  const env = { ...DEMO_ENV, ...exercise.env, ...(worker ? { QUEUE_PREFIX: worker.prefix } : {}) };
  const options = (internal: boolean) =>
    lab
      ? {
          // The lab's change beside the removal (API-INVENTORY's forgotten route), on the public listener.
          ...(!internal && removal.change ? { controllers: [...removal.change.controllers] } : {}),
          overrides: [...((internal ? removal.internal : removal.api) ?? [])],
          env: { ...env, ...removal.env, ...(removal.runtimeAsOwner ? { DATABASE_APP_URL: process.env.DATABASE_URL! } : {}) },
          expectLeaks: true,
          beforeInit: (app: NestFastifyApplication) => markLab(app, exercise.control),
        }
      : { ownLogger: true, env };
  const api = exercise.internal ? await buildInternalApi(options(true)) : await buildApi(options(false));
  const base = await listening(api);
  // An internal exercise whose control is removed from the public listener (ACCESS-RECORD): the
  // attack goes to $BASE, the public application, and $INTERNAL shows what it left behind.
  const publicApi = exercise.internal && removal.api ? await buildApi(options(false)) : undefined;
  const publicBase = publicApi ? await listening(publicApi) : undefined;
  return {
    api: publicApi ?? api,
    base: publicBase ?? base,
    variables: {
      ...(exercise.internal ? { INTERNAL: base, OPERATOR: operator } : {}),
      // The Redis and queue prefix the worker takes its jobs from, as the lab's banner prints them.
      ...(exercise.queue && worker ? { REDIS_URL: loadConfig().REDIS_URL, QUEUE_PREFIX: worker.prefix } : {}),
      // The database the listener uses, which the lab's banner prints for the operator commands.
      ...(exercise.operatorCli ? { DATABASE_URL: process.env.DATABASE_URL! } : {}),
    },
    async close() {
      await api.close();
      await publicApi?.close();
      await worker?.close();
    },
  };
}

describe('training exercises (docs/training/), run in both modes', () => {
  for (const exercise of EXERCISES) {
    describe(`${exercise.control}: ${exercise.follows}`, () => {
      it('with the control removed (the lab) the commands print the documented outcome', async () => {
        const { api, base, variables, close } = await target(exercise, true);
        try {
          const output = await runCommands(exercise, base, variables);
          expect(departures(output, exercise.lab, api.logs.raw, 'lab')).toEqual([]);
          // The two documented outcomes exclude each other, so the exercise tells the modes apart.
          expect(departures(output, exercise.demo, api.logs.raw, 'demo')).not.toEqual([]);
          expect((await fetch(`${base}/health/live`)).headers.get(LAB_HEADER)).toBe(`${exercise.control} disabled`);
        } finally {
          await close();
          if (exercise.changesSeed) await seed(loadConfig(), DEFAULT_DEMO_PASSWORD);
        }
      }, exercise.timeoutMs);

      it('against the normal demo the same commands print the documented outcome', async () => {
        const { api, base, variables, close } = await target(exercise, false);
        try {
          const output = await runCommands(exercise, base, variables);
          expect(departures(output, exercise.demo, api.logs.raw, 'demo')).toEqual([]);
          expect(departures(output, exercise.lab, api.logs.raw, 'lab')).not.toEqual([]);
          expect((await fetch(`${base}/health/live`)).headers.get(LAB_HEADER)).toBeNull();
        } finally {
          await close();
          // An attack the demo does not refuse (a data subject erasure) changes the seed too.
          if (exercise.changesSeed) await seed(loadConfig(), DEFAULT_DEMO_PASSWORD);
        }
      }, exercise.timeoutMs);
    });
  }
});

describe('a lab mode\u2019s change beside its removal is what the control catches', () => {
  for (const [id, { change }] of Object.entries(LAB_REMOVALS).filter(([, r]) => r.change)) {
    it(`${id}: with the control on, the lab\u2019s change alone (the same build) refuses to start, as the exercise says`, async () => {
      const exercise = EXERCISES.find((e) => e.control === id)!;
      // The production inventory, without the probe exception buildApi grants added controllers.
      const refusal = await buildApi({ controllers: [...change!.controllers], overrides: [{ token: RouteInventory, value: new RouteInventory() }], env: { ...DEMO_ENV, ...exercise.env } }).then(
        async (api) => {
          await api.close();
          return undefined;
        },
        (error: unknown) => error,
      );
      expect(refusal).toBeInstanceOf(RouteInventoryError);
      // The exercise quotes the refusal word for word.
      expect(exercise.demo.means).toContain((refusal as Error).message);
    });
  }
});

describe('npm run lab', () => {
  it('refuses to start with NODE_ENV=production', () => {
    const res = spawnSync(node, [join(root, 'apps/lab/lab.mjs'), 'SECURITY-HEADERS'], { cwd: root, env: { ...process.env, NODE_ENV: 'production' }, encoding: 'utf8', timeout: 30_000 });
    expect(res.status).toBe(2);
    expect(res.stderr).toMatch(/refusing to start/);
  });

  it('is the npm script these tests start', () => {
    const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts.lab).toBe('node apps/lab/lab.mjs');
  });

  it('--list names every lab mode', () => {
    const res = spawnSync(node, [join(root, 'apps/lab/lab.mjs'), '--list'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect({ status: res.status, stderr: res.stderr }).toMatchObject({ status: 0 });
    for (const id of Object.keys(LAB_REMOVALS)) expect(res.stdout).toContain(id);
  }, 60_000);

  it('npm run lab -- AUTHZ-OBJECT (docs/training/README.md) starts the seeded demo without the control, says so in its banner and on every response, and the exercise works against it', async () => {
    const database = new URL(process.env.DATABASE_URL!);
    database.pathname = `${database.pathname}_lab_${randomBytes(4).toString('hex')}`;
    const [port, internalPort] = [await freePort(), await freePort()];
    const child = spawn(node, [join(root, 'apps/lab/lab.mjs'), 'AUTHZ-OBJECT'], {
      cwd: root,
      env: { ...process.env, LAB_DATABASE_URL: database.toString(), LAB_PORT: String(port), LAB_INTERNAL_PORT: String(internalPort), LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    try {
      const deadline = Date.now() + 90_000;
      while (!output.includes('Ctrl-C stops the lab')) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the lab did not start:\n${output.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(output).toContain('BENTENG TRAINING LAB: AUTHZ-OBJECT IS DISABLED');
      const base = `http://127.0.0.1:${port}`;
      for (const url of [`${base}/health/live`, `${base}/v1/no-such-route`, `http://127.0.0.1:${internalPort}/internal/v1/openapi.json`]) {
        expect({ url, lab: (await fetch(url)).headers.get(LAB_HEADER) }).toEqual({ url, lab: 'AUTHZ-OBJECT disabled' });
      }
      const exercise = EXERCISES.find((e) => e.control === 'AUTHZ-OBJECT')!;
      expect(departures(await runCommands(exercise, base), exercise.lab, '', 'lab')).toEqual([]);
    } finally {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await dropDatabase(database.toString());
    }
  }, 120_000);
});

describe('the lab is not part of production', () => {
  it('npm run build compiles no file of apps/lab (so dist/ has no lab entry point)', () => {
    const res = spawnSync(node, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'apps/dev/tsconfig.build.json', '--listFilesOnly'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    expect({ status: res.status, stderr: res.stderr }).toMatchObject({ status: 0 });
    const files = res.stdout.split('\n').filter(Boolean);
    expect(files.some((f) => f.endsWith('apps/api/src/main.ts'))).toBe(true);
    expect(files.filter((f) => f.includes('/apps/lab/') || f.includes('/test/'))).toEqual([]);
    // And a build made before (e2e specs start dist/) holds none either.
    expect(existsSync(join(root, 'dist', 'apps', 'lab'))).toBe(false);
  }, 120_000);

  it('the image copies only dist/, node_modules, prisma and package.json into its runtime stage, and prunes the runner the lab needs (vite)', async () => {
    const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const sources = [...runtime.matchAll(/^COPY\s+(?:--\S+\s+)*(\S+)\s+\S+\s*$/gm)].map((m) => m[1]);
    expect(sources.sort()).toEqual(['/app/dist', '/app/node_modules', '/app/package.json', '/app/prisma']);
    expect(runtime).not.toMatch(/apps\/lab/);
    // The build stage's `npm prune --omit=dev` + apps/dev/prune-production.mjs keep production packages only.
    const { productionPackages, readLock } = (await import(pathToFileURL(join(root, 'apps/dev/lib/production-deps.mjs')).href)) as {
      productionPackages(lock: unknown): Set<string>;
      readLock(dir: string): unknown;
    };
    const kept = productionPackages(readLock(root));
    expect(kept.has('node_modules/vite')).toBe(false);
    expect(kept.has('node_modules/@nestjs/core')).toBe(true);
  });
});
