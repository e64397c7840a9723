// `npm run keys:rotate -- <family> [--emergency]`: rotates a family of the key ring now
// (docs/operations.md, "Key rotation"). Families: access-token.
//
// Without --emergency the family's next key (published in the JWKS since the previous rotation, for
// at least KEY_PUBLISH_LEAD_S) starts signing, the active key retires and keeps verifying until every
// token it signed has expired, and a new next key is published. On a ring without a next key (the
// first run) it only publishes one: run it again after KEY_PUBLISH_LEAD_S.
// With --emergency (suspected exposure) the active key is revoked at once: every token it signed is
// refused from the next request on, in every process (they reload the ring on the unknown kid).
//
// Connects as the runtime role (DATABASE_APP_URL, or derived from DATABASE_URL outside production),
// like the worker's scheduled rotation; prints the outcome as JSON on stdout.
import { SystemClock } from '@benteng/common';
import { ConfigError, loadConfig } from '@benteng/config';
import { PrismaService } from '@benteng/database';
import { KeyRingRepository, KEY_FAMILIES, type KeyFamily } from './key-ring.repository.js';
import { KeyRingUnavailableError, KeyRotationService } from './key-rotation.service.js';

const args = process.argv.slice(2);
const family = args.find((a) => !a.startsWith('--'));
const emergency = args.includes('--emergency');
const unknown = args.filter((a) => a.startsWith('--') && a !== '--emergency');
if (!family || !(KEY_FAMILIES as readonly string[]).includes(family) || unknown.length > 0) {
  process.stderr.write(`usage: npm run keys:rotate -- <${KEY_FAMILIES.join('|')}> [--emergency]\n`);
  process.exit(2);
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
  const sut = new KeyRotationService(new KeyRingRepository(prisma), config, new SystemClock(), logger as never);
  const outcome = await sut.rotate(family as KeyFamily, emergency ? 'emergency' : 'now');
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
