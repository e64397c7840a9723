import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type AppConfig } from '@benteng/config';
import type { FastifyRequest } from 'fastify';
import { clientIp, ipBucket, trustProxyOption } from './client-ip.js';

const sut = (TRUSTED_PROXIES: string) => trustProxyOption(loadConfig({ NODE_ENV: 'test', TRUSTED_PROXIES }));

describe('trustProxyOption', () => {
  it('trusts no proxy when TRUSTED_PROXIES is empty', () => {
    expect(sut('')).toBe(false);
  });

  it('lists the configured addresses and ranges for Fastify', () => {
    expect(sut('10.0.0.0/8,127.0.0.1,fd00::/8,::1')).toEqual(['10.0.0.0/8', '127.0.0.1', 'fd00::/8', '::1']);
  });

  // loadConfig checks the variable's overall shape first; trustProxyOption checks each entry again on
  // whatever AppConfig it is given.
  const direct = (TRUSTED_PROXIES: string) => trustProxyOption({ TRUSTED_PROXIES } as AppConfig);

  it('trims the entries and skips empty ones', () => {
    expect(direct(' 10.0.0.1 , ,127.0.0.1,')).toEqual(['10.0.0.1', '127.0.0.1']);
    expect(direct(' , ')).toBe(false);
  });

  it.each(['10.0.0.0/+8', '10.0.0.0/ 8', '10.0.0.0/8e0', 'fd00::/1e2'])('refuses the prefix of %s, which is a number but not one to three digits', (entry) => {
    expect(() => direct(entry)).toThrow(ConfigError);
  });

  it('accepts every prefix length from 1 to 32 (IPv4) or 128 (IPv6), written as one to three digits', () => {
    expect(sut('10.0.0.0/1,10.0.0.0/16,10.0.0.0/24,10.0.0.1/32,fd00::/128,fd00::/64')).toEqual(['10.0.0.0/1', '10.0.0.0/16', '10.0.0.0/24', '10.0.0.1/32', 'fd00::/128', 'fd00::/64']);
  });

  it.each([
    ['10.0.0', 'is not an IP address or CIDR range'],
    ['10.0.0.0/8/8', 'is not an IP address or CIDR range'],
    ['10.0.0.0/33', 'has a prefix length outside 1-32'],
    ['0.0.0.0/0', 'has a prefix length outside 1-32'],
    ['::/0', 'has a prefix length outside 1-128'],
    ['fd00::/129', 'has a prefix length outside 1-128'],
    ['10.0.0.0/', 'has a prefix length outside 1-32'],
    ['fd00::/0128', 'has a prefix length outside 1-128'],
  ])('refuses %s, naming the entry but not echoing it', (entry, rule) => {
    let error: unknown;
    try {
      sut(`127.0.0.1,${entry}`);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems[0]).toMatchObject({ variable: 'TRUSTED_PROXIES', rule: expect.stringContaining(`entry 2 ${rule}`) });
    expect((error as Error).message).not.toContain(entry);
  });
});

describe('clientIp', () => {
  const request = (ip: string) => ({ ip }) as FastifyRequest;
  it('is the address Fastify resolved, with an IPv4-mapped IPv6 address spelled as IPv4', () => {
    expect(clientIp(request('192.0.2.7'))).toBe('192.0.2.7');
    expect(clientIp(request('::ffff:192.0.2.7'))).toBe('192.0.2.7');
    expect(clientIp(request('::FFFF:192.168.20.100'))).toBe('192.168.20.100');
    expect(clientIp(request('2001:db8::1'))).toBe('2001:db8::1');
  });
});

describe('ipBucket', () => {
  it('counts IPv4 as itself, and an IPv4-mapped address as the IPv4 address', () => {
    expect(ipBucket('192.0.2.7')).toBe('192.0.2.7');
    expect(ipBucket('::ffff:192.168.20.100')).toBe('192.168.20.100');
    expect(ipBucket('::FFFF:192.0.2.7')).toBe('192.0.2.7');
  });

  it('counts IPv6 per /64, with groups in canonical hex and the :: expanded', () => {
    expect(ipBucket('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(ipBucket('2001:0DB8:0001:0002::ff')).toBe('2001:db8:1:2::/64');
    expect(ipBucket('::1')).toBe('0:0:0:0::/64');
    expect(ipBucket('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(ipBucket('1::2:3:4:5:6:7')).toBe('1:0:2:3::/64');
    expect(ipBucket('2001:db8::')).toBe('2001:db8:0:0::/64');
  });

  it('counts a trailing dotted IPv4 part as two groups, and a mapped form only when it is the whole address', () => {
    expect(ipBucket('1::3:4:5:192.0.2.1')).toBe('1:0:0:3::/64');
    expect(ipBucket('64:ff9b::ffff:192.0.2.1')).toBe('64:ff9b:0:0::/64');
    expect(ipBucket('::ffff:192.0.2.1%eth0')).toBe('0:0:0:0::/64');
  });

  it('maps a /64 as PlacedBlock reports it to itself', () => {
    expect(ipBucket('2001:db8:1:2::/64')).toBe('2001:db8:1:2::/64');
  });
});
