import { Injectable } from '@nestjs/common';
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { PinoLogger } from 'nestjs-pino';
import { AppConfig } from '@benteng/config';

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

/**
 * The access-token signing keys: the first signs, every key verifies, so a retired key (second in
 * the list) keeps verifying the tokens it signed until they expire, then the operator removes it.
 */
@Injectable()
export class SigningKeys {
  private keys: SigningKey[] = [];

  constructor(
    private readonly config: AppConfig,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(SigningKeys.name);
  }

  async onModuleInit(): Promise<void> {
    if (this.config.AUTH_SIGNING_KEYS) {
      this.keys = await parseSigningKeys(this.config.AUTH_SIGNING_KEYS);
      return;
    }
    // Config validation requires the variable in production; elsewhere a per-process key keeps
    // `npm start` free of setup. Tokens then do not survive a restart, and instances do not share it.
    this.keys = await parseSigningKeys(JSON.stringify([await generateSigningJwk()]));
    this.logger.warn('AUTH_SIGNING_KEYS is not set: using an ephemeral signing key for this process');
  }

  get active(): SigningKey {
    const key = this.keys[0];
    if (!key) throw new Error('signing keys are not loaded');
    return key;
  }

  find(kid: string): SigningKey | undefined {
    return this.keys.find((k) => k.kid === kid);
  }

  get publicJwks(): { keys: JWK[] } {
    return { keys: this.keys.map((k) => k.publicJwk) };
  }
}
