import { describe, expect, it } from 'vitest';
import { MAX_IP_ALLOWLIST, normalizeCidr, normalizeIpAllowlist } from './ip-allowlist.js';

describe('normalizeCidr', () => {
  it.each([
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['203.0.113.7/32', '203.0.113.7/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['2001:DB8:0:0::/32', '2001:db8::/32'],
    ['::/0', '::/0'],
    ['::ffff:10.0.0.1/128', '::ffff:a00:1/128'],
  ])('accepts %s as %s', (input, stored) => {
    expect(normalizeCidr(input)).toBe(stored);
  });

  it.each([
    ['no prefix', '10.0.0.1'],
    ['an IPv4 prefix above 32', '10.0.0.0/33'],
    ['an IPv6 prefix above 128', '2001:db8::/129'],
    ['a prefix with a leading zero', '10.0.0.0/08'],
    ['a signed prefix', '10.0.0.0/+8'],
    ['an empty prefix', '10.0.0.0/'],
    ['octal IPv4', '012.0.0.1/8'],
    ['hexadecimal IPv4', '0x0a.0.0.1/8'],
    ['a short IPv4 form', '10.1/16'],
    ['a single number', '167772161/32'],
    ['an octet above 255', '256.0.0.0/8'],
    ['an IPv6 zone id', 'fe80::1%eth0/64'],
    ['a host name', 'example.com/32'],
    ['two slashes', '10.0.0.0/8/8'],
    ['surrounding spaces', ' 10.0.0.0/8'],
    ['nothing', ''],
  ])('refuses %s', (_, input) => {
    expect(normalizeCidr(input)).toBeUndefined();
  });
});

describe('normalizeIpAllowlist', () => {
  it('normalizes every entry and drops duplicates after normalization, keeping the first order', () => {
    expect(normalizeIpAllowlist(['2001:db8::/32', '10.0.0.0/8', '2001:0DB8::/32'])).toEqual(['2001:db8::/32', '10.0.0.0/8']);
  });

  it('refuses the whole list for one bad entry, and lists longer than the maximum', () => {
    expect(normalizeIpAllowlist(['10.0.0.0/8', 'nope'])).toBeUndefined();
    expect(normalizeIpAllowlist(Array.from({ length: MAX_IP_ALLOWLIST + 1 }, (_, i) => `10.0.${i}.0/24`))).toBeUndefined();
    expect(normalizeIpAllowlist(Array.from({ length: MAX_IP_ALLOWLIST }, (_, i) => `10.0.${i}.0/24`))).toHaveLength(MAX_IP_ALLOWLIST);
  });
});
