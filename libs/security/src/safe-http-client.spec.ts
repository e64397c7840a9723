import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { Test } from '@nestjs/testing';
import { describe, expect, it } from 'vitest';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';
import { AppConfig, ConfigError, loadConfig } from '@benteng/config';
import { EGRESS_IDLE_SOCKET_MS, EGRESS_MAX_URL_LENGTH, EgressError, SafeHttpClient, addressAllowed, checkUrl, classifyEgressFailure, egressAgentOptions, egressAllowList, guardedLookup, type AddressPolicy } from './safe-http-client.js';

const policyOf = (EGRESS_ALLOW_PRIVATE: string): AddressPolicy => ({ allow: egressAllowList(loadConfig({ NODE_ENV: 'test', EGRESS_ALLOW_PRIVATE })) });
const strict = policyOf('');

/** A production config without the secrets loadConfig would require: only NODE_ENV matters here. */
const productionConfig = () => Object.freeze(Object.assign(new AppConfig(), { NODE_ENV: 'production' as const }));

function errorOf(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('addressAllowed', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback /8'],
    ['::1', 'IPv6 loopback'],
    ['10.0.0.1', 'private 10/8'],
    ['172.16.0.1', 'private 172.16/12'],
    ['172.31.255.255', 'private 172.16/12 (end)'],
    ['192.168.1.1', 'private 192.168/16'],
    ['fc00::1', 'unique local fc00::/7'],
    ['fd12:3456::1', 'unique local fd00::/8'],
    ['169.254.169.254', 'link-local: cloud metadata'],
    ['169.254.0.1', 'link-local'],
    ['fe80::1', 'IPv6 link-local'],
    ['fe80::1%eth0', 'IPv6 link-local with a zone id'],
    ['2606:4700:4700::1111%eth0', 'a public IPv6 address with a zone id'],
    ['fec0::1', 'IPv6 site-local (deprecated)'],
    ['100.64.0.1', 'CGNAT 100.64/10'],
    ['100.127.255.254', 'CGNAT 100.64/10 (end)'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast (SSDP)'],
    ['ff02::1', 'IPv6 multicast'],
    ['255.255.255.255', 'broadcast'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'this network 0/8'],
    ['::', 'IPv6 unspecified'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:169.254.169.254', 'IPv4-mapped metadata'],
    ['::ffff:8.8.8.8', 'IPv4-mapped, even of a public address'],
    ['::127.0.0.1', 'IPv4-compatible (deprecated ::/96)'],
    ['64:ff9b::a9fe:a9fe', 'NAT64 of 169.254.169.254'],
    ['64:ff9b:1::a00:1', 'local-use NAT64 64:ff9b:1::/48'],
    ['2002:7f00:1::1', '6to4 of 127.0.0.1'],
    ['2001::1', 'Teredo'],
    ['192.0.2.1', 'documentation TEST-NET-1'],
    ['198.51.100.1', 'documentation TEST-NET-2'],
    ['203.0.113.1', 'documentation TEST-NET-3'],
    ['2001:db8::1', 'IPv6 documentation'],
    ['198.18.0.1', 'benchmarking'],
    ['192.0.0.1', 'IETF protocol assignments'],
    ['240.0.0.1', 'reserved 240/4'],
    ['100::1', 'IPv6 discard'],
    ['4000::1', 'IPv6 outside 2000::/3'],
    ['not-an-ip', 'not an address'],
    ['127.1', 'legacy short form'],
  ])('refuses %s (%s)', (ip) => {
    expect(addressAllowed(ip, strict)).toBe(false);
  });

  it.each(['8.8.8.8', '1.1.1.1', '93.184.215.14', '172.32.0.1', '100.128.0.1', '11.0.0.1', '2606:4700:4700::1111', '2a00:1450:4001::200e'])(
    'allows the public address %s',
    (ip) => {
      expect(addressAllowed(ip, strict)).toBe(true);
    },
  );

  it('lets EGRESS_ALLOW_PRIVATE ranges through, and nothing next to them', () => {
    const sut = policyOf('127.0.0.1/32,10.1.0.0/16,fd00::/8');
    expect(addressAllowed('127.0.0.1', sut)).toBe(true);
    expect(addressAllowed('10.1.200.3', sut)).toBe(true);
    expect(addressAllowed('fd00::5', sut)).toBe(true);
    expect(addressAllowed('127.0.0.2', sut)).toBe(false);
    expect(addressAllowed('10.2.0.1', sut)).toBe(false);
    expect(addressAllowed('169.254.169.254', sut)).toBe(false);
    expect(addressAllowed('::1', sut)).toBe(false);
  });

  it('matches the allow list within one family: a mapped address is not its IPv4 address', () => {
    expect(addressAllowed('::ffff:127.0.0.1', policyOf('127.0.0.1/32'))).toBe(false);
  });

  it('never allows the unspecified addresses, whatever the allow list says', () => {
    const sut = policyOf('0.0.0.0/8,::/1');
    expect(addressAllowed('0.0.0.0', sut)).toBe(false);
    expect(addressAllowed('::', sut)).toBe(false);
  });
});

describe('egressAllowList', () => {
  it('reads each prefix length as written, from 1 up to the family\'s width', () => {
    const sut = policyOf('10.0.0.0/1,127.0.0.1/32, fd00::/1, ::1/128,');
    expect(sut.allow.map(([network, bits]) => `${network.toString()}/${bits}`)).toEqual(['10.0.0.0/1', '127.0.0.1/32', 'fd00::/1', '::1/128']);
  });

  it('reads plain addresses as single-address ranges', () => {
    const sut = policyOf('127.0.0.1, ::1');
    expect(sut.allow.map(([network, bits]) => `${network.toString()}/${bits}`)).toEqual(['127.0.0.1/32', '::1/128']);
  });

  it.each(['nope', '127.1', '10.0.0.0/0', '::/0', '10.0.0.0/33', '10.0.0.0/8/8', '0x7f.0.0.1', '10.0.0.0/+8', '10.0.0.0/ 8', '10.0.0.0/0x8', 'fd00::/8e1', 'fd00::/0128', '10.0.0.0/'])(
    'refuses the entry %s, naming its position but not its value',
    (entry) => {
      const error = errorOf(() => policyOf(`127.0.0.1/32,${entry}`));
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems[0]).toMatchObject({ variable: 'EGRESS_ALLOW_PRIVATE', rule: expect.stringContaining('entry 2 ') });
      expect((error as Error).message).not.toContain(entry);
    },
  );
});

describe('SafeHttpClient.assertDeliverableUrl', () => {
  const sut = new SafeHttpClient(loadConfig({ NODE_ENV: 'test' }));
  const production = new SafeHttpClient(productionConfig());
  const reasonOf = (client: SafeHttpClient, url: string) => {
    const error = errorOf(() => client.assertDeliverableUrl(url));
    expect(error, `${url} should be refused`).toBeInstanceOf(EgressError);
    expect((error as Error).message, 'the message must not echo the URL').not.toContain(new URL(url).hostname);
    return (error as EgressError).reason;
  };

  it.each([
    'not a url',
    '/relative/path',
    'ftp://example.com/',
    'file:///etc/passwd',
    'javascript:alert(1)',
    'gopher://example.com:70/',
    'http://user:secret@example.com/',
    'http://user@example.com/',
    'https://:secret@example.com/',
    `https://example.com/${'a'.repeat(2048)}`,
  ])('refuses %s as invalid_url', (url) => {
    expect(errorOf(() => sut.assertDeliverableUrl(url))).toMatchObject({ name: 'EgressError', reason: 'invalid_url' });
  });

  it.each([
    'http://127.0.0.1/',
    'http://127.0.0.1:8080/hook',
    'http://2130706433/',
    'http://0x7f.1/',
    'http://127.1/',
    'http://[::1]/',
    'http://[::ffff:127.0.0.1]/',
    'http://[::ffff:7f00:1]/',
    'http://0.0.0.0/',
    'http://[::]/',
    'http://169.254.169.254/latest/meta-data',
    'http://[fe80::1]/',
    'http://10.0.0.1/',
    'http://172.16.5.4/',
    'http://192.168.0.1/',
    'http://100.64.0.1/',
    'http://[fd00::1]/',
    'http://224.0.0.1/',
    'http://255.255.255.255/',
    'http://[64:ff9b::a9fe:a9fe]/',
    'http://example.com:25/',
    'http://example.com:6667/',
    'https://example.com:0/',
  ])('refuses %s as blocked_address', (url) => {
    expect(reasonOf(sut, url)).toBe('blocked_address');
  });

  it('requires https in production, and only there', () => {
    expect(reasonOf(production, 'http://example.com/hook')).toBe('https_required');
    expect(() => sut.assertDeliverableUrl('http://example.com/hook')).not.toThrow();
    expect(() => production.assertDeliverableUrl('https://example.com/hook')).not.toThrow();
  });

  it('checks literal addresses in production too', () => {
    expect(reasonOf(production, 'https://169.254.169.254/')).toBe('blocked_address');
  });

  it.each(['https://example.com/', 'https://hooks.example.com:8443/a?b=c', 'http://8.8.8.8/', 'http://[2606:4700:4700::1111]/', 'http://localhost:3000/'])(
    'accepts %s (a host name is not resolved here: the connect-time check decides)',
    (url) => {
      expect(() => sut.assertDeliverableUrl(url)).not.toThrow();
    },
  );

  it('accepts an address in EGRESS_ALLOW_PRIVATE', () => {
    const allowed = new SafeHttpClient(loadConfig({ NODE_ENV: 'test', EGRESS_ALLOW_PRIVATE: '127.0.0.1/32' }));
    expect(() => allowed.assertDeliverableUrl('http://127.0.0.1:4000/')).not.toThrow();
    expect(errorOf(() => allowed.assertDeliverableUrl('http://127.0.0.2:4000/'))).toMatchObject({ reason: 'blocked_address' });
  });

  it('refuses to start with an invalid EGRESS_ALLOW_PRIVATE', () => {
    expect(() => new SafeHttpClient(loadConfig({ NODE_ENV: 'test', EGRESS_ALLOW_PRIVATE: '0.0.0.0/0' }))).toThrow(ConfigError);
  });
});

describe('checkUrl', () => {
  it('returns the parsed URL of a deliverable address', () => {
    expect(checkUrl('https://Example.COM:8443/a?b=1', true, strict).host).toBe('example.com:8443');
  });

  it(`accepts a URL of exactly ${EGRESS_MAX_URL_LENGTH} characters and refuses one more`, () => {
    const base = 'https://example.com/';
    const exact = base + 'a'.repeat(EGRESS_MAX_URL_LENGTH - base.length);
    expect(() => checkUrl(exact, true, strict)).not.toThrow();
    expect(errorOf(() => checkUrl(`${exact}a`, true, strict))).toMatchObject({ reason: 'invalid_url', message: `The URL is longer than ${EGRESS_MAX_URL_LENGTH} characters.` });
  });

  // The message is what a tenant reads in its delivery log: it says why, and never echoes the URL.
  it.each([
    ['not a url', 'invalid_url', 'The URL is not a valid absolute URL.'],
    ['ftp://example.com/', 'invalid_url', 'The URL must use http or https.'],
    ['https://user:pass@example.com/', 'invalid_url', 'The URL must not contain a user name or password.'],
    ['http://example.com/', 'https_required', 'The URL must use https.'],
    ['https://example.com:25/', 'blocked_address', 'The URL uses a port that is not allowed.'],
    ['https://10.0.0.1/', 'blocked_address', 'The URL points to an address that is not allowed.'],
    ['https://[::1]/', 'blocked_address', 'The URL points to an address that is not allowed.'],
  ])('refuses %s as %s, with a message that says why', (url, reason, message) => {
    expect(errorOf(() => checkUrl(url, true, strict))).toMatchObject({ name: 'EgressError', reason, message });
  });

  it('judges the default port of each scheme, and a literal IPv6 address without its brackets', () => {
    expect(() => checkUrl('http://example.com/', false, strict)).not.toThrow();
    expect(() => checkUrl('https://example.com/', true, strict)).not.toThrow();
    expect(() => checkUrl('https://[2606:4700:4700::1111]/', true, strict)).not.toThrow();
  });
});

describe('classifyEgressFailure', () => {
  const failure = (code: string | undefined, message = 'failed') => Object.assign(new Error(message), code === undefined ? {} : { code });

  it('passes an EgressError on as it is', () => {
    const error = new EgressError('timeout', 'No complete response in time.');
    expect(classifyEgressFailure(error)).toBe(error);
  });

  it("reads request-filtering-agent's refusal as blocked_address, without its message (which names the address)", () => {
    const sut = classifyEgressFailure(failure(undefined, 'DNS lookup 10.0.0.7(family:4, host:hook.example) is not allowed. Because, It is private IP address.'));
    expect(sut).toMatchObject({ name: 'EgressError', reason: 'blocked_address', message: 'The host resolves to an address that is not allowed.' });
  });

  it.each(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME', 'ENODATA'])('reads %s as dns', (code) => {
    expect(classifyEgressFailure(failure(code, `getaddrinfo ${code} hook.example`))).toMatchObject({ reason: 'dns', message: 'The host name could not be resolved.' });
  });

  it('reads an overflow of the response head as too_large', () => {
    expect(classifyEgressFailure(failure('HPE_HEADER_OVERFLOW'))).toMatchObject({ reason: 'too_large', message: 'The response headers exceed 16384 bytes.' });
  });

  it.each(['ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_SSL_WRONG_VERSION_NUMBER', 'CERT_HAS_EXPIRED', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'HOSTNAME_MISMATCH'])(
    'reads %s as tls',
    (code) => {
      expect(classifyEgressFailure(failure(code))).toMatchObject({ reason: 'tls', message: 'The TLS handshake failed or the certificate was not accepted.' });
    },
  );

  it.each([undefined, 'ECONNREFUSED', 'ECONNRESET', 'X_ERR_TLS_', 'XCERT_HAS_EXPIRED', 'EAI_AGAIN_X'])('reads code %s as connect_failed', (code) => {
    expect(classifyEgressFailure(failure(code, 'connect ECONNREFUSED 10.0.0.7:443'))).toMatchObject({
      reason: 'connect_failed',
      message: 'The connection failed or was closed before a complete response.',
    });
  });

  it('reads a refusal message only at its end of a sentence, not any mention of "not allowed"', () => {
    expect(classifyEgressFailure(failure(undefined, 'Method is not allowed.'))).toMatchObject({ reason: 'connect_failed' });
  });
});

describe('guardedLookup', () => {
  /** A lookup that answers every name with `addresses`, in the shape asked for. */
  const fakeLookup =
    (addresses: LookupAddress[]): LookupFunction =>
    (_hostname, options, callback) =>
      options.all ? callback(null, addresses) : callback(null, addresses[0]!.address, addresses[0]!.family);
  const run = (lookup: LookupFunction, all: boolean) =>
    new Promise<{ error: unknown; answer: unknown; family?: number }>((resolve) =>
      guardedLookup(lookup, strict)('hook.example', { all }, (error, answer, family) => resolve({ error, answer, family })),
    );

  it('passes public answers through in the shape the socket asked for', async () => {
    const lookup = fakeLookup([
      { address: '93.184.215.14', family: 4 },
      { address: '2606:2800:21f:cb07:6820:80da:af6b:8b2c', family: 6 },
    ]);
    expect(await run(lookup, true)).toMatchObject({ error: null, answer: [{ address: '93.184.215.14' }, { address: '2606:2800:21f:cb07:6820:80da:af6b:8b2c' }] });
    expect(await run(lookup, false)).toMatchObject({ error: null, answer: '93.184.215.14', family: 4 });
  });

  it('refuses a name when any answer is not allowed, even when the socket asked for one', async () => {
    const lookup = fakeLookup([
      { address: '93.184.215.14', family: 4 },
      { address: '169.254.169.254', family: 4 },
    ]);
    expect((await run(lookup, false)).error).toMatchObject({ name: 'EgressError', reason: 'blocked_address' });
    expect((await run(lookup, true)).error).toMatchObject({ name: 'EgressError', reason: 'blocked_address' });
  });

  it('refuses a private answer', async () => {
    const { error } = await run(fakeLookup([{ address: '10.0.0.7', family: 4 }]), true);
    expect(error).toMatchObject({ reason: 'blocked_address' });
    expect((error as Error).message, 'no address in the message').not.toContain('10.0.0.7');
  });

  it('accepts a lookup that answers one bare address, and tells its family when the lookup does not', async () => {
    const bare: LookupFunction = (_hostname, _options, callback) => (callback as (error: null, address: string) => void)(null, '2606:4700:4700::1111');
    expect(await run(bare, false)).toMatchObject({ error: null, answer: '2606:4700:4700::1111', family: 6 });
    expect(await run(bare, true)).toMatchObject({ error: null, answer: [{ address: '2606:4700:4700::1111', family: 6 }] });
    const privateBare: LookupFunction = (_hostname, _options, callback) => callback(null, '10.0.0.7', 4);
    expect((await run(privateBare, false)).error).toMatchObject({ reason: 'blocked_address' });
  });

  it('refuses an empty answer as a name not found', async () => {
    const { error } = await run(fakeLookup([]), true);
    expect(error).toMatchObject({ code: 'ENOTFOUND', message: 'No address found.' });
  });

  it('names no address when it refuses', async () => {
    const { error } = await run(fakeLookup([{ address: '10.0.0.7', family: 4 }]), false);
    expect(error).toMatchObject({ name: 'EgressError', reason: 'blocked_address', message: 'The host resolves to an address that is not allowed.' });
  });

  it('passes DNS errors on', async () => {
    const failing: LookupFunction = (_hostname, _options, callback) => callback(Object.assign(new Error('nope'), { code: 'ENOTFOUND' }), '');
    expect((await run(failing, true)).error).toMatchObject({ code: 'ENOTFOUND' });
  });
});

describe('SafeHttpClient wiring', () => {
  it('is built by Nest from AppConfig alone (the DNS lookup seam is optional)', async () => {
    const moduleRef = await Test.createTestingModule({
      providers: [SafeHttpClient, { provide: AppConfig, useValue: loadConfig({ NODE_ENV: 'test' }) }],
    }).compile();
    expect(moduleRef.get(SafeHttpClient)).toBeInstanceOf(SafeHttpClient);
    await moduleRef.close();
  });

  it('connects through request-filtering-agent for http and https (the second connect-time layer)', () => {
    // Private fields, read on purpose: no request can tell the agent's refusal from the guard's,
    // since the guard refuses everything the agent would; this keeps the agent from being dropped.
    const sut = new SafeHttpClient(loadConfig({ NODE_ENV: 'test' })) as unknown as { httpAgent: unknown; httpsAgent: unknown };
    expect(sut.httpAgent).toBeInstanceOf(RequestFilteringHttpAgent);
    expect(sut.httpsAgent).toBeInstanceOf(RequestFilteringHttpsAgent);
  });

  it('refuses TLS below 1.2 whatever the process default (node --tls-min-v1.0 lowers it)', () => {
    const sut = new SafeHttpClient(loadConfig({ NODE_ENV: 'test' })) as unknown as { httpsAgent: { options: { minVersion?: string } } };
    expect(sut.httpsAgent.options.minVersion).toBe('TLSv1.2');
  });
});

describe('egressAgentOptions', () => {
  it('gives request-filtering-agent the allow list as CIDRs, and keeps idle connections only briefly', () => {
    const sut = egressAgentOptions(policyOf('127.0.0.1,fd00::/8'), (() => undefined) as unknown as LookupFunction);
    expect(sut.allowIPAddressList).toEqual(['127.0.0.1/32', 'fd00::/8']);
    // Pooled per checked address (SafeHttpClient.post connects to the literal address its guarded
    // lookup allowed; test/integration/egress.spec.ts shows a rebinding refused with a socket open).
    expect(sut.keepAlive).toBe(true);
    expect(sut.timeout).toBe(EGRESS_IDLE_SOCKET_MS);
  });
});
