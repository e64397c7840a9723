import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { AppConfig, tokenPepper } from '@benteng/config';
import type { TenantTx } from '@benteng/database';
import { minted, isCanonicalUuid } from '@benteng/common';

const SECRET = /^[A-Za-z0-9_-]{43}$/;

/**
 * Opaque refresh tokens: `rt.<tenant id>.<256 random bits>`. The tenant part tells the server
 * which tenant's table to look in, so a refresh needs no cross-tenant lookup; it grants nothing by
 * itself (a forged tenant part simply finds no token). Only an HMAC of the whole token is stored.
 */
@Injectable()
export class RefreshTokens {
  private readonly pepper: Buffer;

  constructor(
    private readonly config: AppConfig,
    logger: PinoLogger,
  ) {
    this.pepper = tokenPepper(config, 'refresh-tokens', 'refresh tokens', logger);
  }

  mint(tenantId: string): { token: string; hash: string } {
    const token = minted('refresh token', `rt.${tenantId}.${randomBytes(32).toString('base64url')}`);
    return { token, hash: this.hash(token) };
  }

  /** The tenant a well-formed token names, or undefined for anything else. */
  parse(token: string): { tenantId: string } | undefined {
    const [prefix, tenantId, secret, ...rest] = token.split('.');
    if (prefix !== 'rt' || rest.length > 0 || !tenantId || !isCanonicalUuid(tenantId) || !secret || !SECRET.test(secret)) return undefined;
    return { tenantId };
  }

  /** A refresh token lives its TTL, never past its session. */
  expiry(now: Date, sessionExpiresAt: Date): Date {
    return new Date(Math.min(now.getTime() + this.config.REFRESH_TOKEN_TTL_S * 1000, sessionExpiresAt.getTime()));
  }

  hash(token: string): string {
    return createHmac('sha256', this.pepper).update(token).digest('hex');
  }

  matches(token: string, hash: string): boolean {
    const a = Buffer.from(this.hash(token), 'hex');
    const b = Buffer.from(hash, 'hex');
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /**
   * Rotation with reuse detection (RFC 9700 4.14.2), step one: a token already rotated away is
   * spent, and presenting it again is reuse (the caller ends the whole family).
   */
  wasSpent(row: { rotatedAt: Date | null }): boolean {
    return row.rotatedAt !== null;
  }

  /**
   * Step two: spends the presented token inside the refresh transaction. False when a concurrent
   * refresh spent it first, which counts as reuse too (exactly one of two racing refreshes wins).
   */
  async spend(tx: TenantTx, id: string, now: Date): Promise<boolean> {
    const claimed = await tx.refreshToken.updateMany({ where: { id, rotatedAt: null }, data: { rotatedAt: now } });
    return claimed.count === 1;
  }
}
