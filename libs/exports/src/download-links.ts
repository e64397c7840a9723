import { createHmac, timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { RevocationStore } from '@benteng/auth';
import { minted, isCanonicalUuid } from '@benteng/common';
import { AppConfig, derivedKey } from '@benteng/config';

/** 32 bytes of HMAC-SHA256, base64url without padding. */
const SIG = /^[A-Za-z0-9_-]{43}$/;
const EXPIRES = /^[1-9]\d{0,11}$/;

/**
 * What a download link is bound to: one export of one tenant, for one user and the login session
 * that asked for it, until one second.
 */
export interface DownloadLinkClaims {
  tenantId: string;
  exportId: string;
  userId: string;
  /** The session of the access token that minted the link: the link ends with it (issue 14). */
  sessionId: string;
  /** Unix seconds. */
  expires: number;
}

/** The parts of a download link as they arrive (query string and path), not yet trusted. */
export interface PresentedLink {
  tenant: string;
  exportId: string;
  user: string;
  session: string;
  expires: string;
  sig: string;
}

/**
 * The signed material: a version tag, then tenant, export, user, session and expiry. Every part is
 * a lowercase UUID or a decimal number, so no part can run into the next one. v2 added the session,
 * so a v1 link (no session) can never verify.
 */
function material(claims: DownloadLinkClaims): string {
  return `export-download/v2|${claims.tenantId}|${claims.exportId}|${claims.userId}|${claims.sessionId}|${claims.expires}`;
}

export function signDownloadLink(key: Buffer, claims: DownloadLinkClaims): string {
  return createHmac('sha256', key).update(material(claims), 'utf8').digest('base64url');
}

/**
 * The claims of a link whose signature is genuine (compared in constant time) and which is neither
 * expired nor valid for longer than a link can be issued for; null otherwise. A link passing
 * this has only proven who it was issued to: whether that user may still download the export is
 * decided afterwards from current state.
 */
export function verifyDownloadLink(key: Buffer, link: PresentedLink, nowS: number, ttlS: number): DownloadLinkClaims | null {
  if (!isCanonicalUuid(link.tenant) || !isCanonicalUuid(link.exportId) || !isCanonicalUuid(link.user) || !isCanonicalUuid(link.session) || !EXPIRES.test(link.expires) || !SIG.test(link.sig)) return null;
  const claims: DownloadLinkClaims = { tenantId: link.tenant, exportId: link.exportId, userId: link.user, sessionId: link.session, expires: Number(link.expires) };
  // Compared as text, not as decoded bytes: base64url has several spellings of the same last
  // byte, and a link should have exactly one valid form. Both are 43 ASCII characters (SIG).
  const expected = Buffer.from(signDownloadLink(key, claims), 'ascii');
  const presented = Buffer.from(link.sig, 'ascii');
  if (presented.length !== expected.length || !timingSafeEqual(expected, presented)) return null;
  if (claims.expires <= nowS || claims.expires > nowS + ttlS) return null;
  return claims;
}

export function downloadLinkPath(claims: DownloadLinkClaims, sig: string): string {
  const query = new URLSearchParams({ tenant: claims.tenantId, user: claims.userId, session: claims.sessionId, expires: String(claims.expires), sig });
  return `/v1/exports/${claims.exportId}/file?${query.toString()}`;
}

/**
 * Download links for export files: a URL a browser can fetch without the access token, valid for
 * EXPORT_URL_TTL_S, signed with a key derived for this purpose only. The tenant travels in the URL
 * because nothing else names it on an unauthenticated request, and it is covered by the signature,
 * so it is as trustworthy as the rest of the link.
 */
@Injectable()
export class DownloadLinks {
  private readonly key: Buffer;
  readonly ttlS: number;

  constructor(
    config: AppConfig,
    private readonly revocations: RevocationStore,
  ) {
    this.key = derivedKey(config, 'export-download-urls').key;
    this.ttlS = config.EXPORT_URL_TTL_S;
  }

  issue(claims: Omit<DownloadLinkClaims, 'expires'>, nowS: number): { path: string; expiresAt: Date } {
    const full = { ...claims, expires: nowS + this.ttlS };
    return { path: downloadLinkPath(full, minted('export link signature', signDownloadLink(this.key, full))), expiresAt: new Date(full.expires * 1000) };
  }

  verify(link: PresentedLink, nowS: number): DownloadLinkClaims | null {
    return verifyDownloadLink(this.key, link, nowS, this.ttlS);
  }

  /**
   * Is the session that minted the link still open, its user active and its tenant active? A link
   * is a credential derived from that session, so logout, logout-all, a password change, a lock or
   * a removed membership end it like every access token of the session. Asked of Postgres (the
   * revocation store's source of truth) rather than its Redis markers: a marker lives as long as an
   * access token, which EXPORT_URL_TTL_S does not have to stay under, and downloads are rare.
   */
  async sessionLive(claims: DownloadLinkClaims): Promise<boolean> {
    return !(await this.revocations.revokedInDatabase({ tid: claims.tenantId, sub: claims.userId, sid: claims.sessionId }));
  }
}
