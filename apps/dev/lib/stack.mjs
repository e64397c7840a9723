// The local stack shared by `npm start` (apps/dev/start.mjs) and `npm run dev` (apps/dev/dev.mjs):
// loads .env, builds, provides PostgreSQL (DATABASE_URL, or an embedded server with its data under
// .data/pg), checks Redis, migrates, seeds; then starts the compiled API and worker, waits until the
// API is ready and prints how to use it.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadDotEnv } from './env.mjs';
import { dist, root } from './paths.mjs';

/** `log`/`fail` print with the script's prefix ("[start]", "[dev]"); `fail` exits. */
export function reporter(prefix) {
  return {
    log: (line) => process.stdout.write(`[${prefix}] ${line}\n`),
    fail: (line) => {
      process.stderr.write(`[${prefix}] ${line}\n`);
      process.exit(1);
    },
  };
}

/** Build, secrets, configuration, Redis, PostgreSQL, migrations and the demo seed. */
export async function prepareStack({ log, fail }) {
  loadDotEnv();
  const build = spawnSync(process.execPath, [join(root, 'apps', 'dev', 'build.mjs')], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);

  const { loadConfig, ConfigError } = await import(join(dist, 'libs/config/src/index.js'));
  const { startLocalPostgres, migrateDatabase } = await import(join(dist, 'libs/database/src/index.js'));
  const seedModule = await import(join(dist, 'prisma/seed.js'));
  const { generateSigningJwk } = await import(join(dist, 'libs/auth/src/index.js'));
  const { Redis } = await import('ioredis');

  const env = { ...process.env };

  // The demo's signing key, pepper and payment-provider webhook secret persist in
  // .data/dev-secrets.json (git-ignored), so tokens, refresh tokens and partner keys survive a restart
  // and the API, the worker and the seed agree; the webhook secret lets a local "provider" sign
  // inbound payment events (POST /webhooks/inbound/payments would answer 503 without it). Variables
  // set in the environment win; production never gets here (the seed refuses it).
  // A secret given as NAME_FILE counts as set (libs/config/src/secret-source.ts): filling NAME too
  // would make the loader refuse both.
  const given = (name) => Boolean(env[name] || env[`${name}_FILE`]);
  if (env.NODE_ENV !== 'production' && (!given('AUTH_SIGNING_KEYS') || !given('AUTH_TOKEN_PEPPER') || !given('PAYMENTS_WEBHOOK_SECRET'))) {
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
    for (const name of ['AUTH_SIGNING_KEYS', 'AUTH_TOKEN_PEPPER', 'PAYMENTS_WEBHOOK_SECRET']) if (!given(name)) env[name] = secrets[name];
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
  if (!env.DATABASE_URL && !env.DATABASE_URL_FILE) {
    const port = Number(env.BENTENG_LOCAL_PG_PORT ?? 54329);
    log(`DATABASE_URL is not set: starting the embedded PostgreSQL on 127.0.0.1:${port} (data in .data/pg)`);
    try {
      localPostgres = await startLocalPostgres('pg', port);
    } catch (error) {
      fail(`could not start the embedded PostgreSQL: ${error?.message ?? error}. Set DATABASE_URL to use your own server.`);
    }
    env.DATABASE_URL = localPostgres.urlFor('benteng');
  }

  // Again, now that DATABASE_URL names the database in use.
  config = loadConfig(env);

  let seeded;
  try {
    const result = await migrateDatabase(config, (line) => log(`db:migrate ${line}`));
    log(`database migrated (${result.applied.length} applied, ${result.alreadyApplied.length} already applied)`);
    seeded = await seedModule.seed(config, seedModule.demoPassword(env), (line) => log(`db:seed ${line}`));
  } catch (error) {
    await localPostgres?.stop();
    fail(`database setup failed: ${error?.message ?? error}`);
  }
  return { env, config, localPostgres, seeded, seedModule };
}

/** Spawns a compiled entry point (`apps/api/src/main.js`) with the stack's environment. */
export function spawnEntry(env, entry) {
  return spawn(process.execPath, ['--enable-source-maps', join(dist, entry)], { cwd: root, env, stdio: ['ignore', 'inherit', 'inherit'] });
}

/** Sends SIGTERM and resolves once the child has exited. */
export function terminate(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGTERM');
  });
}

export function baseUrl(config) {
  const host = config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST;
  return `http://${host}:${config.PORT}`;
}

/** Polls /health/ready for up to `ms`; false when it never answered 200 or `stopped()` turned true. */
export async function waitReady(config, stopped, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && !stopped()) {
    if (await fetch(`${baseUrl(config)}/health/ready`).then((r) => r.ok, () => false)) return true;
    await sleep(250);
  }
  return false;
}

/** How to use the running stack: URLs, demo logins, example requests. */
export function printBanner({ env, config, localPostgres, seeded, seedModule }, stopHint) {
  const { demoPassword, demoPartnerCredentials, DEMO_TENANTS, DEMO_ROLES, DEMO_CONSULTANT, demoEmail } = seedModule;
  const base = baseUrl(config);
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
      stopHint,
      '',
    ].join('\n'),
  );
}
