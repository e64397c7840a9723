import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { generateSigningJwk } from '@benteng/auth';
import { loadConfig } from '@benteng/config';
import { migrateDatabase, projectRoot, startLocalPostgres, type LocalPostgres } from '@benteng/database';
import { demoEmail, demoPassword, DEMO_TENANTS, seed } from '../../../prisma/seed.js';
import { CONTROLS, type ControlId } from '../../../test/security/support/controls.js';
import { labApi, labInternal, labWorker, LAB_HEADER } from './lab-app.js';
import { LAB_REMOVALS, NOT_IN_LAB } from './removals.js';

/**
 * `npm run lab -- <CONTROL-ID>` (apps/lab/lab.mjs runs this file from source): the seeded demo, API
 * (both listeners) and worker, with one control removed through the seam the kill-switch suite
 * uses (apps/lab/src/removals.ts), on its own port and its own embedded database. Every response
 * carries `X-Benteng-Lab: <CONTROL-ID> disabled`. `npm run lab -- --list` lists the lab modes.
 * Refuses NODE_ENV=production; apps/lab is outside the production build (docs/training/README.md).
 */

const out = (line = '') => process.stdout.write(`${line}\n`);
const fail = (line: string, code = 1): never => {
  process.stderr.write(`[lab] ${line}\n`);
  process.exit(code);
};

if (process.env.NODE_ENV === 'production') fail('refusing to start: the training lab removes a security control on purpose and never runs with NODE_ENV=production', 2);

const arg = process.argv[2];
if (!arg || arg === '--help') fail('usage: npm run lab -- <CONTROL-ID>   |   npm run lab -- --list', 2);
if (arg === '--list') {
  out('Lab modes (npm run lab -- <CONTROL-ID>):');
  for (const [id, r] of Object.entries(LAB_REMOVALS)) out(`  ${id.padEnd(28)} ${r.removal}`);
  out('');
  out('No lab mode (docs/training/README.md says why):');
  for (const id of Object.keys(NOT_IN_LAB)) out(`  ${id}`);
  process.exit(0);
}
if (!(arg in CONTROLS)) fail(`unknown control ${arg}: npm run lab -- --list names them`, 2);
const control = arg as ControlId;
const removal = LAB_REMOVALS[control] ?? fail(`${control} has no lab mode: ${NOT_IN_LAB[control] ?? 'not listed'}`, 2);

const env: NodeJS.ProcessEnv = { ...process.env };
// The lab's secrets persist in .data/lab/secrets.json (git-ignored) so tokens survive a restart.
const secretsFile = join(projectRoot(), '.data', 'lab', 'secrets.json');
const secrets = (existsSync(secretsFile) ? JSON.parse(readFileSync(secretsFile, 'utf8')) : {}) as Record<string, string>;
secrets.AUTH_SIGNING_KEYS ||= JSON.stringify([await generateSigningJwk()]);
secrets.AUTH_TOKEN_PEPPER ||= randomBytes(32).toString('base64url');
secrets.PAYMENTS_WEBHOOK_SECRET ||= `whsec_${randomBytes(32).toString('base64')}`;
mkdirSync(join(projectRoot(), '.data', 'lab'), { recursive: true });
writeFileSync(secretsFile, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
for (const name of ['AUTH_SIGNING_KEYS', 'AUTH_TOKEN_PEPPER', 'PAYMENTS_WEBHOOK_SECRET']) env[name] ||= secrets[name];

const port = Number(env.LAB_PORT ?? 3100);
const internalPort = Number(env.LAB_INTERNAL_PORT ?? port + 1);
if (port === 2024 || internalPort === 2024) fail('port 2024 is reserved; choose another LAB_PORT', 2);
Object.assign(env, { HOST: '127.0.0.1', PORT: String(port), INTERNAL_HOST: '127.0.0.1', INTERNAL_PORT: String(internalPort), QUEUE_PREFIX: `lab-${control.toLowerCase()}`, ...removal.env });

let localPostgres: LocalPostgres | undefined;
if (env.LAB_DATABASE_URL) {
  env.DATABASE_URL = env.LAB_DATABASE_URL;
} else {
  // Never the demo's database: one embedded server per control, data in .data/lab/<CONTROL-ID>.
  const pgPort = Number(env.LAB_PG_PORT ?? 54339);
  out(`[lab] starting the embedded PostgreSQL on 127.0.0.1:${pgPort} (data in .data/lab/${control})`);
  localPostgres = await startLocalPostgres(join('lab', control), pgPort);
  env.DATABASE_URL = localPostgres.urlFor('benteng');
}
// The runtime and internal logins are derived from the lab's database, never inherited from the demo's
// (TENANT-RLS: the runtime login is the owner's, which row-level security does not hold).
env.DATABASE_APP_URL = removal.runtimeAsOwner ? env.DATABASE_URL : '';
env.DATABASE_INTERNAL_URL = '';
Object.assign(process.env, env);
const config = loadConfig(env);
await migrateDatabase(config, (line) => out(`[lab] db:migrate ${line}`));
const password = demoPassword(env);
const seeded = await seed(config, password, (line) => out(`[lab] db:seed ${line}`));

const apps: NestFastifyApplication[] = [];
const api = await labApi(config, removal.api ?? [], control, removal.change?.controllers);
const internal = await labInternal(config, removal.internal ?? [], control);
apps.push(api, internal);
const worker = await labWorker(config, removal.worker ?? []);
await api.listen({ host: config.HOST, port: config.PORT });
await internal.listen({ host: config.INTERNAL_HOST, port: config.INTERNAL_PORT });

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.allSettled([...apps.map((a) => a.close()), worker.close()]);
  await localPostgres?.stop();
  process.exit(0);
}
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());

const bar = '!'.repeat(78);
const redis = new URL(config.REDIS_URL);
out(
  [
    '',
    bar,
    `!!  BENTENG TRAINING LAB: ${control} IS DISABLED`,
    `!!  ${CONTROLS[control].title}`,
    `!!  Removed: ${removal.removal}`,
    ...(removal.change ? [`!!  Changed: ${removal.change.description}`] : []),
    '!!  This server is vulnerable on purpose. Never expose it; every response carries',
    `!!  the header ${LAB_HEADER}: ${control} disabled`,
    bar,
    '',
    `  Lab API        http://127.0.0.1:${config.PORT}/v1`,
    `  Lab internal   http://127.0.0.1:${config.INTERNAL_PORT}/internal/v1`,
    `  Database       ${localPostgres ? `embedded (.data/lab/${control})` : 'LAB_DATABASE_URL'}: DATABASE_URL=${env.DATABASE_URL} (for operator commands against the lab, e.g. npm run keys:rotate)`,
    // The worker's queues (REDIS_URL and QUEUE_PREFIX of the exercises that write a job into them, JOB-ENVELOPE); no credential of the URL is printed.
    `  Job queues     redis://${redis.host}${redis.pathname} (REDIS_URL), QUEUE_PREFIX=${config.QUEUE_PREFIX}`,
    `  Demo logins    ${demoEmail(DEMO_TENANTS[0]!, 'member')} and the others of npm start (password: ${password})`,
    `  Demo operator  ${seeded.operatorId ?? '(none)'} (OPERATOR of the internal-listener exercises)`,
    `  Exercise       docs/training/${control}.md (BASE=http://127.0.0.1:${config.PORT})`,
    '',
    'Ctrl-C stops the lab and its embedded database.',
    '',
  ].join('\n'),
);
