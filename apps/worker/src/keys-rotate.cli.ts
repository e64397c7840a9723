// `npm run keys:rotate -- <family> [--emergency]`: rotates a family of the key ring now
// (docs/operations.md, "Key rotation"). Families: access-token, job-envelope (the key ring).
//
// `npm run keys:rotate -- job-envelope --env | data-encryption | internal-signature --service <name>`:
// families (or, for job-envelope, its JOB_SIGNING_KEYS part) that live in environment variables,
// which a process cannot change. Prints the variable's
// next value on stdout (a new key first, every current key after it) for the operator to deploy
// (write it to the NAME_FILE secret or the environment of the API and the worker); the old keys
// stay until their work is done (docs/operations.md).
//
// Without --emergency the family's next key (published in the JWKS since the previous rotation, for
// at least KEY_PUBLISH_LEAD_S) starts signing, the active key retires and keeps verifying until every
// token it signed has expired, and a new next key is published. On a ring without a next key (the
// first run) it only publishes one: run it again after KEY_PUBLISH_LEAD_S.
// With --emergency (suspected exposure) the active key is revoked at once: every token it signed is
// refused from the next request on, in every process (they reload the ring on the unknown kid); for
// job-envelope, the queued jobs it signed are removed from the queues (counted in the output and the
// platform audit event `platform.key_revoked`) and the workers refuse any other as `revoked_key`.
//
// `npm run keys:rotate -- data-encryption --reencrypt`: after DATA_ENCRYPTION_KEYS has been
// deployed with a new key first, moves every stored value sealed under an older key to it (the
// re-encryption job, libs/webhooks/src/webhook-secret-reencryption.ts; the worker's platform job
// `platform.data-reencryption` does the same on its schedule). Prints the report as JSON; exits 1
// unless it completed (some value no configured key opens, or an older key still seals something).
//
// Connects as the runtime role (DATABASE_APP_URL, or derived from DATABASE_URL outside production),
// like the worker's scheduled rotation; prints the outcome as JSON on stdout.
import { PlatformAuditLog } from '@benteng/audit';
import { SystemClock } from '@benteng/common';
import { ConfigError, ENV_KEY_FAMILIES, loadConfig, rotatedKeyringValue, type EnvKeyFamily } from '@benteng/config';
import { PrismaService, TenantDatabase } from '@benteng/database';
import { QueuedJobRevocation } from '@benteng/jobs';
import { WebhookSecretBox, WebhookSecretReencryption } from '@benteng/webhooks';
import { KeyRingRepository, KEY_FAMILIES, KeyRingUnavailableError, KeyRotationService, type KeyFamily } from '@benteng/auth';

const args = process.argv.slice(2);
const serviceAt = args.indexOf('--service');
const service = serviceAt >= 0 ? args[serviceAt + 1] : undefined;
const positional = args.filter((a, i) => !a.startsWith('--') && (serviceAt < 0 || i !== serviceAt + 1));
const family = positional[0];
const emergency = args.includes('--emergency');
const reencrypt = args.includes('--reencrypt');
const envValue = args.includes('--env');
const unknown = args.filter((a, i) => a.startsWith('--') && a !== '--emergency' && a !== '--reencrypt' && a !== '--env' && i !== serviceAt);
const families = [...new Set([...KEY_FAMILIES, ...Object.keys(ENV_KEY_FAMILIES)])];
const usage = () => {
  process.stderr.write(`usage: npm run keys:rotate -- <${families.join('|')}> [--emergency] (internal-signature: --service <name>; data-encryption: [--reencrypt]; job-envelope: [--env] prints the next JOB_SIGNING_KEYS instead)\n`);
  process.exit(2);
};
if (!family || !families.includes(family) || unknown.length > 0 || positional.length > 1) usage();

if (reencrypt && family !== 'data-encryption') usage();
if (reencrypt) {
  let prisma: PrismaService | undefined;
  try {
    const config = loadConfig();
    prisma = new PrismaService(config);
    const sut = new WebhookSecretReencryption(prisma, new TenantDatabase(prisma), new WebhookSecretBox(config), new PlatformAuditLog(prisma));
    const report = await sut.run({ actor: 'operator-cli:keys-rotate' });
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    process.stderr.write(
      report.complete
        ? `keys:rotate data-encryption --reencrypt: ${report.resealed} stored value(s) sealed again under ${report.activeKid}; nothing is sealed under another key: the older keys may be removed from DATA_ENCRYPTION_KEYS.\n`
        : `keys:rotate data-encryption --reencrypt: not complete: ${report.unreadable} value(s) no configured key opens (left as they are, named in the report and the platform audit event), ${JSON.stringify(report.remainingByKid)} still under older keys; keep those keys.\n`,
    );
    process.exitCode = report.complete ? 0 : 1;
  } catch (error) {
    process.stderr.write(`keys:rotate: ${error instanceof ConfigError ? error.message : `re-encryption failed: ${(error as Error).message}`}\n`);
    process.exitCode = 1;
  } finally {
    await prisma?.onModuleDestroy();
  }
  process.exit();
}

if (envValue && family !== 'job-envelope') usage();
// job-envelope is both: the key ring by default, JOB_SIGNING_KEYS with --env.
if (family! in ENV_KEY_FAMILIES && (!(KEY_FAMILIES as readonly string[]).includes(family!) || envValue)) {
  const envFamily = family as EnvKeyFamily;
  if (emergency || (envFamily === 'internal-signature') !== (service !== undefined) || (service !== undefined && !/^[a-z][a-z0-9-]{0,31}$/.test(service))) usage();
  const variable = ENV_KEY_FAMILIES[envFamily];
  try {
    const config = loadConfig();
    const { value, kid } = rotatedKeyringValue(envFamily, config[variable], new Date(), service);
    // Validated as the processes will validate it before it is printed.
    loadConfig({ ...process.env, [variable]: value, [`${variable}_FILE`]: undefined });
    process.stdout.write(`${value}\n`);
    process.stderr.write(
      `keys:rotate ${family}: new key ${kid} first, the current keys after it. Deploy this value as ${variable} (or its ${variable}_FILE) to the API and the worker together; ` +
        (envFamily === 'data-encryption'
          ? 'then run `npm run keys:rotate -- data-encryption --reencrypt` (or let the worker\'s platform.data-reencryption job run) and remove an old key only once that reports complete.\n'
          : envFamily === 'job-envelope'
            ? 'remove the old keys once the jobs they signed have run (the longest webhook retry schedule) and the workers restarted (repeatable jobs are signed again at start).\n'
            : `move ${service} to ${kid}, then remove its old key.\n`),
    );
    process.exit(0);
  } catch (error) {
    process.stderr.write(`keys:rotate: ${error instanceof ConfigError ? error.message : `rotation failed: ${(error as Error).message}`}\n`);
    process.exit(1);
  }
}

const logged: string[] = [];
const logger = {
  setContext: () => undefined,
  info: (_fields: unknown, message: string) => logged.push(message),
  warn: (_fields: unknown, message: string) => logged.push(message),
};

let prisma: PrismaService | undefined;
try {
  const config = loadConfig();
  prisma = new PrismaService(config);
  const sut = new KeyRotationService(new KeyRingRepository(prisma), config, new SystemClock(), logger as never, new PlatformAuditLog(prisma), new QueuedJobRevocation(config));
  const outcome = await sut.rotate(family as KeyFamily, emergency ? 'emergency' : 'now', 'operator-cli:keys-rotate');
  process.stdout.write(`${JSON.stringify(outcome, null, 2)}\n`);
  process.stderr.write(
    outcome.waiting
      ? `keys:rotate ${family}: nothing promoted yet: ${outcome.waiting}.\n`
      : `keys:rotate ${family}: ${outcome.active} signs now; ${outcome.demoted ? `${outcome.demoted.kid} ${outcome.demoted.state === 'revoked' ? 'is revoked (its tokens are refused now)' : `verifies until ${outcome.demoted.verifyUntil}`}` : 'no key was active in the ring before'}; next key ${outcome.next ?? 'none'}.\n`,
  );
} catch (error) {
  const message = error instanceof ConfigError || error instanceof KeyRingUnavailableError ? error.message : `rotation failed: ${(error as Error).message}`;
  process.stderr.write(`keys:rotate: ${message}\n`);
  process.exitCode = 1;
} finally {
  await prisma?.onModuleDestroy();
}
