import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { downloadLinkPath, signDownloadLink, verifyDownloadLink as sut, type DownloadLinkClaims, type PresentedLink } from './download-links.js';
import { tag } from '../../../test/security/support/controls.js';

const KEY = randomBytes(32);
const NOW = 1_800_000_000;
const TTL = 300;
const CLAIMS: DownloadLinkClaims = {
  tenantId: '0193b7a0-0000-7000-8000-0000000000a1',
  exportId: '0193b7a0-0000-7000-8000-0000000000e1',
  userId: '0193b7a0-0000-7000-8000-0000000000c1',
  sessionId: '0193b7a0-0000-7000-8000-0000000000d1',
  expires: NOW + TTL,
};
const OTHER = '0193b7a0-0000-7000-8000-0000000000ff';

function presented(claims = CLAIMS, key = KEY): PresentedLink {
  return { tenant: claims.tenantId, exportId: claims.exportId, user: claims.userId, session: claims.sessionId, expires: String(claims.expires), sig: signDownloadLink(key, claims) };
}

describe(tag('EXPORT-LINK', 'download links'), () => {
  it('verifies a genuine link until it expires', () => {
    expect(sut(KEY, presented(), NOW, TTL)).toEqual(CLAIMS);
    expect(sut(KEY, presented(), NOW + TTL - 1, TTL)).toEqual(CLAIMS);
    expect(sut(KEY, presented(), NOW + TTL, TTL)).toBeNull();
  });

  it('is bound to tenant, export, user, session and expiry: changing any one refuses it', () => {
    const link = presented();
    for (const tampered of [
      { ...link, tenant: OTHER },
      { ...link, exportId: OTHER },
      { ...link, user: OTHER },
      { ...link, session: OTHER },
      { ...link, expires: String(CLAIMS.expires + 60) },
      { ...link, sig: `${link.sig.slice(0, 20)}${link.sig[20] === 'A' ? 'B' : 'A'}${link.sig.slice(21)}` },
      // The same bytes spelled differently (base64url's unused low bits of the last character).
      { ...link, sig: `${link.sig.slice(0, -1)}${String.fromCharCode(link.sig.charCodeAt(42) ^ 1)}` },
    ]) {
      expect(sut(KEY, tampered, NOW, TTL), `${JSON.stringify(tampered)}`).toBeNull();
    }
  });

  it('refuses a link signed with another key, and malformed parts', () => {
    expect(sut(randomBytes(32), presented(), NOW, TTL)).toBeNull();
    expect(sut(KEY, presented(CLAIMS, randomBytes(32)), NOW, TTL)).toBeNull();
    expect(sut(KEY, { ...presented(), sig: 'x' }, NOW, TTL)).toBeNull();
    expect(sut(KEY, { ...presented(), expires: '1e9' }, NOW, TTL)).toBeNull();
    expect(sut(KEY, { ...presented(), tenant: CLAIMS.tenantId.toUpperCase() }, NOW, TTL)).toBeNull();
  });

  it('refuses a genuine signature over an expiry further away than a link can be issued for', () => {
    const far = { ...CLAIMS, expires: NOW + TTL + 1 };
    expect(sut(KEY, presented(far), NOW, TTL)).toBeNull();
  });

  it('puts every signed part in the URL', () => {
    const url = new URL(downloadLinkPath(CLAIMS, 'sig'), 'http://x');
    expect(url.pathname).toBe(`/v1/exports/${CLAIMS.exportId}/file`);
    expect(Object.fromEntries(url.searchParams)).toEqual({ tenant: CLAIMS.tenantId, user: CLAIMS.userId, session: CLAIMS.sessionId, expires: String(CLAIMS.expires), sig: 'sig' });
  });
});
