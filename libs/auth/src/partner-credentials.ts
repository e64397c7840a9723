import { createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { AppConfig, tokenPepper } from '@benteng/config';
import { minted } from '@benteng/common';

export type PartnerEnvironment = 'live' | 'test';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const KEY = /^bt_(live|test)_([a-z2-7]{12})_([A-Za-z0-9_-]{43})$/;
const CLIENT_SECRET = /^bt_cs_[A-Za-z0-9_-]{43}$/;

/** The stored form of a partner API key: HMAC-SHA256 under the pepper, labelled by kind. */
export function partnerKeyHash(pepper: string | Buffer, key: string): string {
  return createHmac('sha256', pepper).update(`partner-key\0${key}`).digest('hex');
}

/** The stored form of a partner client secret. */
export function partnerClientSecretHash(pepper: string | Buffer, secret: string): string {
  return createHmac('sha256', pepper).update(`partner-client-secret\0${secret}`).digest('hex');
}

/** True when a bearer credential looks like an API key rather than a JWT (for routing only). */
export const looksLikeApiKey = (credential: string): boolean => credential.startsWith('bt_');

/**
 * Partner API keys and client secrets.
 *
 * Key format `bt_<env>_<prefix>_<secret>`, as GitHub and Stripe do: the environment is readable so
 * a test key pasted into production is refused on sight (and secret scanners can match the shape);
 * the 12-character base32 prefix (60 bits) is the non-secret lookup handle shown in lists; the
 * secret is 256 random bits. Client secrets are `bt_cs_<256 bits>`.
 *
 * Both are stored as HMAC-SHA256 under AUTH_TOKEN_PEPPER, with a label per kind (domain
 * separation), not with argon2: they are high-entropy random values, so a slow hash adds nothing
 * against guessing, while every partner request verifies one. A stolen table alone cannot be used
 * to test guesses without the pepper.
 */
@Injectable()
export class PartnerCredentials {
  private readonly pepper: Buffer;

  constructor(config: AppConfig, logger: PinoLogger) {
    this.pepper = tokenPepper(config, 'partner-credentials', 'partner keys and client secrets', logger);
  }

  mintKey(environment: PartnerEnvironment): { key: string; prefix: string; hash: string } {
    const prefix = Array.from({ length: 12 }, () => BASE32[randomInt(32)]).join('');
    const key = minted('partner api key', `bt_${environment}_${prefix}_${randomBytes(32).toString('base64url')}`);
    return { key, prefix, hash: partnerKeyHash(this.pepper, key) };
  }

  /** The environment and lookup prefix of a well-formed key; undefined for anything else. */
  parseKey(key: string): { environment: PartnerEnvironment; prefix: string } | undefined {
    const match = KEY.exec(key);
    if (!match) return undefined;
    return { environment: match[1] as PartnerEnvironment, prefix: match[2]! };
  }

  keyMatches(key: string, hash: string): boolean {
    return matches(partnerKeyHash(this.pepper, key), hash);
  }

  mintClientSecret(): { secret: string; hash: string } {
    const secret = minted('partner client secret', `bt_cs_${randomBytes(32).toString('base64url')}`);
    return { secret, hash: partnerClientSecretHash(this.pepper, secret) };
  }

  clientSecretMatches(secret: string, hash: string): boolean {
    return CLIENT_SECRET.test(secret) && matches(partnerClientSecretHash(this.pepper, secret), hash);
  }
}

function matches(computed: string, stored: string): boolean {
  const a = Buffer.from(computed, 'hex');
  const b = Buffer.from(stored, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
