// `npm start`: the demo. Builds, provides PostgreSQL (DATABASE_URL, or an embedded server with
// its data under .data/pg), checks Redis, migrates, seeds, starts the API and the worker, waits
// until the API is ready and prints how to use it. Ctrl-C stops everything it started.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { dist, root } from './lib/paths.mjs';

const log = (line) => process.stdout.write(`[start] ${line}\n`);
const fail = (line) => {
  process.stderr.write(`[start] ${line}\n`);
  process.exit(1);
};

const build = spawnSync(process.execPath, [join(root, 'apps', 'dev', 'build.mjs')], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

const { loadConfig, ConfigError } = await import(join(dist, 'libs/config/src/index.js'));
const { startLocalPostgres, migrateDatabase } = await import(join(dist, 'libs/database/src/index.js'));
const { seed, demoPassword, demoPartnerCredentials, DEMO_TENANTS, DEMO_ROLES, DEMO_CONSULTANT, demoEmail } = await import(join(dist, 'prisma/seed.js'));
const { generateSigningJwk } = await import(join(dist, 'libs/auth/src/index.js'));
const { Redis } = await import('ioredis');

const env = { ...process.env };

// The demo's signing key, pepper and payment-provider webhook secret persist in
// .data/dev-secrets.json (git-ignored), so tokens, refresh tokens and partner keys survive a restart
// and the API, the worker and the seed agree; the webhook secret lets a local "provider" sign
// inbound payment events (POST /webhooks/inbound/payments would answer 503 without it). Variables
// set in the environment win; production never gets here (the seed refuses it).
if (env.NODE_ENV !== 'production' && (!env.AUTH_SIGNING_KEYS || !env.AUTH_TOKEN_PEPPER || !env.PAYMENTS_WEBHOOK_SECRET)) {
  const file = join(root, '.data', 'dev-secrets.json');
  const secrets = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  const generated = [];
  const fill = async (name, label, make) => {
    if (secrets[name]) return;
    secrets[name] = await make();
    generated.push(label);
  };
  await fill('AUTH_SIGNING_KEYS', 'signing key', async () => JSON.stringify([await generateSigningJwk()]));
  await fill('AUTH_TOKEN_PEPPER', 'token pepper', () => randomBytes(32).toString('base64url'));
  await fill('PAYMENTS_WEBHOOK_SECRET', 'payments webhook secret', () => `whsec_${randomBytes(32).toString('base64')}`);
  if (generated.length > 0) {
    mkdirSync(join(root, '.data'), { recursive: true });
    writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
    log(`generated development secrets in .data/dev-secrets.json (${generated.join(', ')})`);
  }
  env.AUTH_SIGNING_KEYS ||= secrets.AUTH_SIGNING_KEYS;
  env.AUTH_TOKEN_PEPPER ||= secrets.AUTH_TOKEN_PEPPER;
  env.PAYMENTS_WEBHOOK_SECRET ||= secrets.PAYMENTS_WEBHOOK_SECRET;
}

let config;
try {
  config = loadConfig(env);
} catch (error) {
  fail(error instanceof ConfigError ? error.message : String(error));
}

const redis = new Redis(config.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000, retryStrategy: () => null });
redis.on('error', () => undefined);
try {
  await redis.connect();
  await redis.ping();
} catch {
  fail(
    `Redis is not reachable at REDIS_URL (${new URL(config.REDIS_URL).host}). Start one, e.g.\n` +
      '  redis-server --daemonize yes --save "" --appendonly yes --appendfsync everysec\n' +
      '  or: docker compose up -d redis\n' +
      'or point REDIS_URL at a running server.',
  );
} finally {
  redis.disconnect();
}

let localPostgres;
if (!env.DATABASE_URL) {
  const port = Number(env.BENTENG_LOCAL_PG_PORT ?? 54329);
  log(`DATABASE_URL is not set: starting the embedded PostgreSQL on 127.0.0.1:${port} (data in .data/pg)`);
  try {
    localPostgres = await startLocalPostgres('pg', port);
  } catch (error) {
    fail(`could not start the embedded PostgreSQL: ${error?.message ?? error}. Set DATABASE_URL to use your own server.`);
  }
  env.DATABASE_URL = localPostgres.urlFor('benteng');
}

let seeded;
// Again, now that DATABASE_URL names the database in use.
config = loadConfig(env);

try {
  const result = await migrateDatabase(config, (line) => log(`db:migrate ${line}`));
  log(`database migrated (${result.applied.length} applied, ${result.alreadyApplied.length} already applied)`);
  seeded = await seed(config, demoPassword(env), (line) => log(`db:seed ${line}`));
} catch (error) {
  await localPostgres?.stop();
  fail(`database setup failed: ${error?.message ?? error}`);
}

const children = [];
function launch(name, entry) {
  const child = spawn(process.execPath, ['--enable-source-maps', join(dist, entry)], { cwd: root, env, stdio: ['ignore', 'inherit', 'inherit'] });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      process.stderr.write(`[start] ${name} exited (${signal ?? code}); stopping\n`);
      void stop(1);
    }
  });
  children.push(child);
  return child;
}

let stopping = false;
async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  await Promise.all(
    children.filter((c) => c.exitCode === null).map(
      (c) =>
        new Promise((resolve) => {
          c.once('exit', resolve);
          c.kill('SIGTERM');
        }),
    ),
  );
  await localPostgres?.stop();
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

launch('api', 'apps/api/src/main.js');
launch('worker', 'apps/worker/src/main.js');

const host = config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST;
const base = `http://${host}:${config.PORT}`;
const deadline = Date.now() + 60_000;
let ready = false;
while (!ready && Date.now() < deadline && !stopping) {
  ready = await fetch(`${base}/health/ready`).then((r) => r.ok, () => false);
  if (!ready) await sleep(250);
}
if (!ready) {
  process.stderr.write('[start] the API did not become ready within 60 s\n');
  await stop(1);
}

const password = demoPassword(env);
const logins = [
  ...DEMO_TENANTS.flatMap((tenant) => DEMO_ROLES.map((role) => `    ${demoEmail(tenant, role).padEnd(38)} ${tenant.name} (${role})`)),
  `    ${DEMO_CONSULTANT.email.padEnd(38)} member of both tenants`,
];
process.stdout.write(
  [
    '',
    'Benteng is running.',
    `  API (public surface)   ${base}/v1 (docs: ${base}/v1/docs)`,
    `  API (partner surface)  ${base}/partner/v1`,
    `  Readiness              ${base}/health/ready`,
    `  Worker                 BullMQ on ${new URL(config.REDIS_URL).host}`,
    `  PostgreSQL             ${localPostgres ? 'embedded (.data/pg)' : 'DATABASE_URL'}`,
    '',
    `  Demo logins (password: ${password}):`,
    ...logins,
    '',
    '  Try:',
    `    curl -s ${base}/health/ready`,
    `    curl -s -X POST ${base}/v1/auth/login -H 'content-type: application/json' -d '{"email":"${demoEmail(DEMO_TENANTS[0], 'owner')}","password":"${password}"}'`,
    `    curl -s ${base}/v1/me -H "authorization: Bearer <accessToken from the login answer>"`,
    '',
    ...(seeded?.partnerClientId
      ? [
          `  Demo partner client of ${DEMO_TENANTS[0].name} (test environment, every scope):`,
          `    client id      ${seeded.partnerClientId}`,
          `    client secret  ${demoPartnerCredentials(password).clientSecret}`,
          `    API key        ${demoPartnerCredentials(password).key}`,
          `    curl -s ${base}/partner/v1/invoices -H "authorization: Bearer ${demoPartnerCredentials(password).key}"`,
          `    curl -s -X POST ${base}/partner/oauth/token -u '${seeded.partnerClientId}:${demoPartnerCredentials(password).clientSecret}' -d grant_type=client_credentials`,
          `  Partner API description: ${base}/partner/v1/openapi.json (${base}/partner/v1/docs)`,
          '',
        ]
      : []),
    `  Internal surface (operators, signed requests): http://${config.INTERNAL_HOST}:${config.INTERNAL_PORT}/internal/v1 (docs/internal-signatures.md)`,
    ...(seeded?.operatorId ? [`    npm run internal -- GET /internal/v1/whoami --operator ${seeded.operatorId}`, ''] : ['']),
    'Ctrl-C stops the API, the worker and the embedded database.',
    '',
  ].join('\n'),
);
