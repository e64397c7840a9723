import { hkdfSync, randomBytes } from 'node:crypto';
import type { AppConfig } from './config.schema.js';

/** Named keys: the first (`active`) signs or encrypts; every one verifies or decrypts (rotation). */
export interface Keyring {
  readonly active: { readonly kid: string; readonly key: Buffer };
  find(kid: string): Buffer | undefined;
  /** Every kid of the ring, the active one first. */
  readonly kids: readonly string[];
  /** True when no key was configured and none could be derived: this process made one up. */
  readonly ephemeral: boolean;
}

const EPHEMERAL = new Map<string, Buffer>();

/**
 * A key derived from AUTH_TOKEN_PEPPER for one purpose (HKDF-SHA256 with the purpose as `info`),
 * so development and tests need one secret, not one per purpose, and the API and the worker agree
 * on it. Without a pepper (non-production only) the key is random for this process.
 */
export function derivedKey(config: AppConfig, purpose: string): { key: Buffer; ephemeral: boolean } {
  if (config.AUTH_TOKEN_PEPPER) {
    return { key: Buffer.from(hkdfSync('sha256', config.AUTH_TOKEN_PEPPER, 'benteng', purpose, 32)), ephemeral: false };
  }
  let key = EPHEMERAL.get(purpose);
  if (!key) EPHEMERAL.set(purpose, (key = randomBytes(32)));
  return { key, ephemeral: true };
}

/**
 * The pepper of the stored credential hashes (refresh tokens, partner keys and client secrets,
 * invitation tokens, metrics scrape credentials): AUTH_TOKEN_PEPPER's bytes as they are (stored
 * hashes depend on them), or, without one (non-production only: validation requires it there), a
 * key made up by this process for that kind of credential, and a warning that `credentials` (in
 * words, e.g. `refresh tokens`) then last only as long as the process.
 */
export function tokenPepper(config: AppConfig, purpose: string, credentials: string, logger: { warn(message: string): void }): Buffer {
  if (config.AUTH_TOKEN_PEPPER) return Buffer.from(config.AUTH_TOKEN_PEPPER, 'utf8');
  let key = EPHEMERAL.get(`pepper:${purpose}`);
  if (!key) EPHEMERAL.set(`pepper:${purpose}`, (key = randomBytes(32)));
  logger.warn(`AUTH_TOKEN_PEPPER is not set: ${credentials} will not survive a restart of this process`);
  return key;
}

function keyring(entries: { kid: string; key: Buffer }[], ephemeral: boolean): Keyring {
  const byKid = new Map(entries.map((e) => [e.kid, e.key]));
  return { active: entries[0]!, find: (kid) => byKid.get(kid), kids: entries.map((e) => e.kid), ephemeral };
}

function parsePairs(value: string): { kid: string; value: string }[] {
  return value.split(',').map((pair) => {
    const at = pair.indexOf(':');
    return { kid: pair.slice(0, at), value: pair.slice(at + 1) };
  });
}

/** JOB_SIGNING_KEYS (validated by AppConfig), or a key derived for job envelopes. */
export function jobSigningKeys(config: AppConfig): Keyring {
  if (config.JOB_SIGNING_KEYS) return keyring(parsePairs(config.JOB_SIGNING_KEYS).map((p) => ({ kid: p.kid, key: Buffer.from(p.value, 'utf8') })), false);
  const { key, ephemeral } = derivedKey(config, 'job-envelopes');
  return keyring([{ kid: 'derived', key }], ephemeral);
}

/** DATA_ENCRYPTION_KEYS (validated by AppConfig), or a key derived for data encryption. */
export function dataEncryptionKeys(config: AppConfig): Keyring {
  if (config.DATA_ENCRYPTION_KEYS) return keyring(parsePairs(config.DATA_ENCRYPTION_KEYS).map((p) => ({ kid: p.kid, key: Buffer.from(p.value, 'base64') })), false);
  const { key, ephemeral } = derivedKey(config, 'data-encryption');
  return keyring([{ kid: 'derived', key }], ephemeral);
}

/**
 * KEY_RING_ROOT_KEYS (validated by AppConfig), or undefined: without it there is no key ring
 * (docs/operations.md, "Key rotation"), in every environment. Not derived from the pepper outside
 * production: the ring is shared by every process on the database, and one that joined it by
 * accident (a test, a second `npm start`) would sign with, or revoke, another's keys.
 */
export function keyRingRootKeys(config: AppConfig): Keyring | undefined {
  if (!config.KEY_RING_ROOT_KEYS) return undefined;
  return keyring(parsePairs(config.KEY_RING_ROOT_KEYS).map((p) => ({ kid: p.kid, key: Buffer.from(p.value, 'base64') })), false);
}

/** One internal caller's key: which service it belongs to, its id and its secret. */
export interface ServiceKey {
  readonly service: string;
  readonly kid: string;
  readonly secret: Buffer;
}

/** The service the development key belongs to (npm run internal), and its kid. */
export const DEV_INTERNAL_SERVICE = 'ops-cli';
export const DERIVED_KID = 'derived';

/**
 * INTERNAL_SERVICE_KEYS (validated by AppConfig), or one key for `ops-cli` derived from
 * AUTH_TOKEN_PEPPER. A kid names one key across every service (the verifier looks keys up by kid
 * alone), so a kid used twice is refused rather than resolved by order.
 */
export function internalServiceKeys(config: AppConfig): { keys: ReadonlyMap<string, ServiceKey>; ephemeral: boolean } {
  if (config.INTERNAL_SERVICE_KEYS) {
    const keys = new Map<string, ServiceKey>();
    for (const triple of config.INTERNAL_SERVICE_KEYS.split(',')) {
      const [service, kid] = triple.split(':', 2) as [string, string];
      const secret = triple.slice(service.length + kid.length + 2);
      if (keys.has(kid)) throw new Error('INTERNAL_SERVICE_KEYS: a key id is used more than once');
      keys.set(kid, { service, kid, secret: Buffer.from(secret, 'utf8') });
    }
    return { keys, ephemeral: false };
  }
  const { key, ephemeral } = derivedKey(config, `internal-service:${DEV_INTERNAL_SERVICE}`);
  return { keys: new Map([[DERIVED_KID, { service: DEV_INTERNAL_SERVICE, kid: DERIVED_KID, secret: key }]]), ephemeral };
}

/** The environment-configured key families `npm run keys:rotate` prepares a new value for. */
export const ENV_KEY_FAMILIES = {
  'job-envelope': 'JOB_SIGNING_KEYS',
  'data-encryption': 'DATA_ENCRYPTION_KEYS',
  'internal-signature': 'INTERNAL_SERVICE_KEYS',
} as const;
export type EnvKeyFamily = keyof typeof ENV_KEY_FAMILIES;

/**
 * The next value of an environment key ring: a new key first (it signs or encrypts after the
 * deployment), every current key after it (they keep verifying or decrypting: queued jobs, stored
 * ciphertexts, callers not yet moved). `service` names the internal caller the new key belongs to
 * (INTERNAL_SERVICE_KEYS only). Kids are `k<date>-<random>`, unique in the ring.
 */
export function rotatedKeyringValue(family: EnvKeyFamily, current: string | undefined, now: Date, service?: string): { value: string; kid: string } {
  const kid = `k${now.toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(3).toString('hex')}`;
  const entry =
    family === 'data-encryption'
      ? `${kid}:${randomBytes(32).toString('base64')}`
      : family === 'job-envelope'
        ? `${kid}:${randomBytes(32).toString('base64url')}`
        : `${service}:${kid}:${randomBytes(32).toString('base64url')}`;
  return { value: current ? `${entry},${current}` : entry, kid };
}

/** Every key family with an age policy: the key ring's (rotated by the processes) and the environment's (rotated by deploying). */
export const KEY_AGE_POLICIES = {
  'access-token': 'ACCESS_TOKEN_KEY_MAX_AGE_S',
  'job-envelope': 'JOB_ENVELOPE_KEY_MAX_AGE_S',
  'internal-signature': 'INTERNAL_SIGNATURE_KEY_MAX_AGE_S',
  'data-encryption': 'DATA_ENCRYPTION_KEY_MAX_AGE_S',
} as const satisfies Record<string, keyof AppConfig>;
export type KeyAgeFamily = keyof typeof KEY_AGE_POLICIES;

/** The family's key-age policy, seconds (docs/operations.md, "Key rotation"). */
export function keyMaxAgeS(config: AppConfig, family: KeyAgeFamily): number {
  return config[KEY_AGE_POLICIES[family]];
}

/**
 * The day a key was made, from a kid `keys:rotate` or the key ring wrote (`kYYYYMMDD-…`,
 * `rYYYYMMDD-…`: rotatedKeyringValue, libs/auth/src/key-rotation.service.ts), or undefined for a
 * kid without one (a hand-made kid has no known age).
 */
export function kidDate(kid: string): Date | undefined {
  const match = /^[kr](\d{4})(\d{2})(\d{2})-[A-Za-z0-9]+$/.exec(kid);
  if (!match) return undefined;
  const date = new Date(`${match[1]}-${match[2]}-${match[3]}T00:00:00Z`);
  return Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== `${match[1]}-${match[2]}-${match[3]}` ? undefined : date;
}
