import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@benteng/config';
import { trustProxyOption } from './client-ip.js';

const sut = (TRUSTED_PROXIES: string) => trustProxyOption(loadConfig({ NODE_ENV: 'test', TRUSTED_PROXIES }));

describe('trustProxyOption', () => {
  it('trusts no proxy when TRUSTED_PROXIES is empty', () => {
    expect(sut('')).toBe(false);
  });

  it('lists the configured addresses and ranges for Fastify', () => {
    expect(sut('10.0.0.0/8,127.0.0.1,fd00::/8,::1')).toEqual(['10.0.0.0/8', '127.0.0.1', 'fd00::/8', '::1']);
  });

  it.each([
    ['10.0.0', 'is not an IP address or CIDR range'],
    ['10.0.0.0/8/8', 'is not an IP address or CIDR range'],
    ['10.0.0.0/33', 'has a prefix length outside 1-32'],
    ['0.0.0.0/0', 'has a prefix length outside 1-32'],
    ['::/0', 'has a prefix length outside 1-128'],
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
