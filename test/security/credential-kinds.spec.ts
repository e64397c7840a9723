import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CREDENTIAL_KINDS } from '@benteng/common';
import { tag } from './support/controls.js';

/**
 * Every credential kind is followed by the secret-leakage check without a test having to register
 * it (test/support/setup-env.ts observes libs/common/src/credentials.ts). That only holds if every
 * place that mints secret material says which kind it minted: a source file that draws random
 * bytes, computes an HMAC or signs a token must call `minted(kind, …)`, or be listed below with the
 * reason its output is not a credential. A new minting site fails here until it does one or the other.
 */
const root = process.cwd();
const MINTING = /\brandomBytes\(|\bcreateHmac\(|\bnew SignJWT\b|\bCompactSign\b/;

/** Files whose random bytes or MACs are not credentials a caller could present, and why. */
const NOT_CREDENTIALS: Record<string, string> = {
  'libs/common/src/uuid.ts': 'UUIDv7 ids (identifiers, public: tenants, audit rows, access records)',
  'libs/audit/src/audit-log.ts': 'the salt of an audit entry\u2019s personal-data commitment (stored beside the row, never a credential)',
  'libs/config/src/keyrings.ts': 'ephemeral development keys and peppers (without AUTH_TOKEN_PEPPER), never sent anywhere',
  'libs/jobs/src/job-signer.ts': 'job envelope MACs: integrity tags that travel through Redis only and authenticate nothing over HTTP',
  'libs/webhooks/src/webhook-dispatch.ts': 'a random suffix of a BullMQ job id (an identifier)',
  'libs/webhooks/src/webhook-secret-box.ts#iv': 'besides the secret it mints: AES-GCM nonces of the encrypted secrets',
  'libs/auth/src/key-rotation.service.ts': 'job-envelope HMAC keys of the key ring: sealed under KEY_RING_ROOT_KEYS in the database and loaded by the processes, never sent to a caller (like JOB_SIGNING_KEYS)',
  'libs/database/src/key-ring-cipher.ts': 'AES-GCM nonces of the key ring\u2019s sealed key material (the keys themselves come from generateSigningJwk)',
  'apps/lab/src/lab.ts': 'a development pepper and payment webhook secret for the lab\u2019s own processes when none is set (the lab refuses NODE_ENV=production and is not in dist/)',
  'libs/security/src/abuse-detector.ts': 'unique members of the abuse counters\u2019 sorted sets (identifiers)',
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'generated' || entry.name === 'node_modules' ? [] : sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') && !entry.name.endsWith('.d.ts') ? [relative(root, path)] : [];
  });
}

describe(tag('LOG-REDACTION', 'every minted credential is followed by the leakage check'), () => {
  const files = [...sources(join(root, 'apps')), ...sources(join(root, 'libs'))];
  const minting = files.filter((file) => MINTING.test(readFileSync(join(root, file), 'utf8')));

  it('each file that mints secret material says which credential kind it minted, or why it is none', () => {
    const unexplained = minting.filter((file) => !/\bminted\(/.test(readFileSync(join(root, file), 'utf8')) && !(file in NOT_CREDENTIALS));
    expect(unexplained).toEqual([]);
    expect(minting.length).toBeGreaterThan(8);
  });

  it('every kind of the list is minted somewhere, by name', () => {
    const text = files.map((file) => readFileSync(join(root, file), 'utf8')).join('\n');
    expect(CREDENTIAL_KINDS.filter((kind) => !text.includes(`minted('${kind}'`))).toEqual([]);
  });

  it('the list of exceptions names files that exist and still draw random bytes or MACs', () => {
    const stale = Object.keys(NOT_CREDENTIALS)
      .map((entry) => entry.split('#')[0]!)
      .filter((file) => !minting.includes(file));
    expect(stale).toEqual([]);
  });
});
