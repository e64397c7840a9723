import { createHmac, timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AppConfig, derivedKey } from '@benteng/config';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** 32 bytes of HMAC-SHA256, base64url without padding. */
const SIG = /^[A-Za-z0-9_-]{43}$/;
const EXPIRES = /^[1-9]\d{0,11}$/;

/** What a download link is bound to: one export of one tenant, for one user, until one second. */
export interface DownloadLinkClaims {
  tenantId: string;
  exportId: string;
  userId: string;
  /** Unix seconds. */
  expires: number;
}

/** The parts of a download link as they arrive (query string and path), not yet trusted. */
export interface PresentedLink {
  tenant: string;
  exportId: string;
  user: string;
  expires: string;
  sig: string;
}

/**
 * The signed material: a version tag, then tenant, export, user and expiry. Every part is a
 * lowercase UUID or a decimal number, so no part can run into the next one.
 */
function material(claims: DownloadLinkClaims): string {
  return `export-download/v1|${claims.tenantId}|${claims.exportId}|${claims.userId}|${claims.expires}`;
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
  if (!UUID.test(link.tenant) || !UUID.test(link.exportId) || !UUID.test(link.user) || !EXPIRES.test(link.expires) || !SIG.test(link.sig)) return null;
  const claims: DownloadLinkClaims = { tenantId: link.tenant, exportId: link.exportId, userId: link.user, expires: Number(link.expires) };
  // Compared as text, not as decoded bytes: base64url has several spellings of the same last
  // byte, and a link should have exactly one valid form. Both are 43 ASCII characters (SIG).
  const expected = Buffer.from(signDownloadLink(key, claims), 'ascii');
  const presented = Buffer.from(link.sig, 'ascii');
  if (presented.length !== expected.length || !timingSafeEqual(expected, presented)) return null;
  if (claims.expires <= nowS || claims.expires > nowS + ttlS) return null;
  return claims;
}

export function downloadLinkPath(claims: DownloadLinkClaims, sig: string): string {
  const query = new URLSearchParams({ tenant: claims.tenantId, user: claims.userId, expires: String(claims.expires), sig });
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

  constructor(config: AppConfig) {
    this.key = derivedKey(config, 'export-download-urls').key;
    this.ttlS = config.EXPORT_URL_TTL_S;
  }

  issue(claims: Omit<DownloadLinkClaims, 'expires'>, nowS: number): { path: string; expiresAt: Date } {
    const full = { ...claims, expires: nowS + this.ttlS };
    return { path: downloadLinkPath(full, signDownloadLink(this.key, full)), expiresAt: new Date(full.expires * 1000) };
  }

  verify(link: PresentedLink, nowS: number): DownloadLinkClaims | null {
    return verifyDownloadLink(this.key, link, nowS, this.ttlS);
  }
}
