import { Injectable, Optional, type OnModuleDestroy } from '@nestjs/common';
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { PinoLogger } from 'nestjs-pino';
import { Clock } from '@benteng/common';
import { AppConfig, keyRingRootKeys, type Keyring } from '@benteng/config';
import { openKeyMaterial } from '@benteng/database';
import { KeyRingRepository, type KeyRingRow } from '@benteng/database';

/** Asymmetric algorithms only: a verifier never holds a key that can sign. */
export const SIGNING_ALGORITHMS = ['EdDSA', 'ES256'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export interface SigningKey {
  kid: string;
  alg: SigningAlgorithm;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

function algorithmOf(jwk: JWK): SigningAlgorithm {
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  throw new Error('AUTH_SIGNING_KEYS: each key must be an Ed25519 (OKP) or P-256 (EC) private JWK');
}

/** Parses AUTH_SIGNING_KEYS. Errors name the problem, never key material. */
export async function parseSigningKeys(json: string): Promise<SigningKey[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new Error('AUTH_SIGNING_KEYS is not valid JSON');
  }
  if (!Array.isArray(parsed) || parsed.length === 0) throw new Error('AUTH_SIGNING_KEYS must be a non-empty JSON array of private JWKs');
  const keys: SigningKey[] = [];
  for (const jwk of parsed as JWK[]) {
    if (typeof jwk.kid !== 'string' || jwk.kid.length === 0) throw new Error('AUTH_SIGNING_KEYS: every key needs a kid');
    if (typeof jwk.d !== 'string') throw new Error('AUTH_SIGNING_KEYS: keys must be private JWKs (with "d")');
    if (keys.some((k) => k.kid === jwk.kid)) throw new Error('AUTH_SIGNING_KEYS: kids must be unique');
    const alg = algorithmOf(jwk);
    const privateKey = (await importJWK({ ...jwk, alg }, alg)) as CryptoKey;
    const { d: _private, ...publicPart } = jwk;
    const publicJwk: JWK = { kty: publicPart.kty, crv: publicPart.crv, x: publicPart.x, ...(publicPart.y ? { y: publicPart.y } : {}), kid: jwk.kid, alg, use: 'sig' };
    const publicKey = (await importJWK(publicJwk, alg)) as CryptoKey;
    keys.push({ kid: jwk.kid, alg, privateKey, publicKey, publicJwk });
  }
  return keys;
}

/** A new Ed25519 private JWK with a random kid (for `npm run keys:generate` and development). */
export async function generateSigningJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: `k${new Date().toISOString().slice(0, 10).replaceAll('-', '')}-${crypto.randomUUID().slice(0, 8)}` };
}

/** One private JWK as a SigningKey (the checks of parseSigningKeys). */
async function importSigningJwk(jwk: JWK): Promise<SigningKey> {
  const [key] = await parseSigningKeys(JSON.stringify([jwk]));
  return key!;
}

/** Reloads of the ring caused by an unknown kid: at most one a second, so made-up kids cannot flood the database. */
const UNKNOWN_KID_RELOAD_MS = 1000;

/**
 * The access-token signing keys: AUTH_SIGNING_KEYS (the first signs, every key verifies, so a
 * retired key keeps verifying the tokens it signed until they expire, then the operator removes
 * it) and, with a key ring (KEY_RING_ROOT_KEYS; derived outside production), the ring's
 * `access-token` family, which the processes rotate themselves (docs/operations.md, "Key rotation"):
 * the ring's active key signs; its next, active and still-verifying retired keys verify and are
 * published in the JWKS; a revoked kid verifies nothing, wherever it is configured. The ring is
 * reloaded every KEY_RING_REFRESH_S and at once (at most once a second) for a token whose kid
 * this process does not know yet, so a key promoted by another process is never refused here.
 */
@Injectable()
export class SigningKeys implements OnModuleDestroy {
  private configured: SigningKey[] = [];
  private ringKeys: SigningKey[] = [];
  private ringActive: SigningKey | undefined;
  private revoked = new Set<string>();
  private readonly imported = new Map<string, SigningKey>();
  private readonly root: Keyring | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastReload = 0;
  private reloading: Promise<void> | undefined;

  constructor(
    private readonly config: AppConfig,
    private readonly logger: PinoLogger,
    @Optional() private readonly ring?: KeyRingRepository,
    @Optional() private readonly clock?: Clock,
  ) {
    this.logger.setContext(SigningKeys.name);
    this.root = ring ? keyRingRootKeys(config) : undefined;
  }

  async onModuleInit(): Promise<void> {
    if (this.config.AUTH_SIGNING_KEYS) {
      this.configured = await parseSigningKeys(this.config.AUTH_SIGNING_KEYS);
    } else {
      // Config validation requires the variable in production; elsewhere a per-process key keeps
      // `npm start` free of setup. Tokens then do not survive a restart, and instances do not share it.
      this.configured = await parseSigningKeys(JSON.stringify([await generateSigningJwk()]));
      this.logger.warn('AUTH_SIGNING_KEYS is not set: using an ephemeral signing key for this process');
    }
    if (!this.ring || !this.root) return;
    await this.reload();
    this.timer = setInterval(() => void this.reload(), this.config.KEY_RING_REFRESH_S * 1000);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Reads the ring again; on a database error the keys loaded before stay (and the next reload retries). */
  reload(): Promise<void> {
    this.reloading ??= this.load().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  private async load(): Promise<void> {
    this.lastReload = Date.now();
    let rows: KeyRingRow[];
    try {
      rows = await this.ring!.entries('access-token');
    } catch (error) {
      this.logger.warn({ err: error }, 'key ring could not be read: keeping the keys loaded before');
      return;
    }
    const now = this.clock?.now() ?? new Date();
    const keys: SigningKey[] = [];
    let active: SigningKey | undefined;
    const revoked = new Set<string>();
    // The ring is the rows sealed under this deployment's root keys (prisma/migrations/20261207152000_key_ring).
    for (const row of rows.filter((r) => this.root!.find(r.rootKid) !== undefined)) {
      if (row.state === 'revoked') {
        revoked.add(row.kid);
        continue;
      }
      if (row.state === 'retired' && row.verifyUntil && row.verifyUntil <= now) continue;
      let key = this.imported.get(row.kid);
      if (!key) {
        const plain = openKeyMaterial(this.root!, 'access-token', row.kid, row.rootKid, row.material);
        if (!plain) {
          this.logger.error({ kid: row.kid, rootKid: row.rootKid }, 'key ring: a key does not decrypt with KEY_RING_ROOT_KEYS; it is ignored');
          continue;
        }
        key = await importSigningJwk(JSON.parse(plain.toString('utf8')) as JWK);
        this.imported.set(row.kid, key);
      }
      keys.push(key);
      if (row.state === 'active') active = key;
    }
    this.ringKeys = keys;
    this.ringActive = active;
    this.revoked = revoked;
  }

  get active(): SigningKey {
    const key = this.ringActive ?? this.configured.find((k) => !this.revoked.has(k.kid));
    if (!key) throw new Error('signing keys are not loaded');
    return key;
  }

  find(kid: string): SigningKey | undefined {
    if (this.revoked.has(kid)) return undefined;
    return this.ringKeys.find((k) => k.kid === kid) ?? this.configured.find((k) => k.kid === kid);
  }

  /** find(), after reloading the ring when the kid is unknown (at most once a second). */
  async findCurrent(kid: string): Promise<SigningKey | undefined> {
    const known = this.find(kid);
    if (known || !this.ring || !this.root || this.revoked.has(kid)) return known;
    if (Date.now() - this.lastReload >= UNKNOWN_KID_RELOAD_MS) await this.reload();
    else if (this.reloading) await this.reloading;
    return this.find(kid);
  }

  get publicJwks(): { keys: JWK[] } {
    const keys = [...this.ringKeys, ...this.configured.filter((k) => !this.revoked.has(k.kid) && !this.ringKeys.some((r) => r.kid === k.kid))];
    return { keys: keys.map((k) => k.publicJwk) };
  }
}
