import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { hashPassword, type TokenPair } from '@benteng/auth';
import type { TestApi } from './api.js';
import { leakRegistry } from './leak-registry.js';

export const PROBLEM_JSON = /^application\/problem\+json/;

export interface ApiResponse {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  text: string;
  /** The parsed JSON body, or undefined for an empty or non-JSON body. */
  body: unknown;
}

/** A page of a list route (GET /v1/invoices, /v1/security/blocks, /partner/v1/tickets, …). */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface CallOptions {
  /** Bearer access token. */
  token?: string;
  /** Sent as JSON when given. */
  body?: unknown;
}

/**
 * Calls the API through Fastify's inject from one client address. Each test file picks its own
 * address (a random one from the IPv6 documentation range), so the per-IP login and refresh
 * throttles, which live in the shared Redis, never count another file's failures.
 */
export class PublicClient {
  readonly ip = `2001:db8:${randomBytes(2).toString('hex')}:${randomBytes(2).toString('hex')}::${randomBytes(2).toString('hex')}`;

  constructor(private readonly api: TestApi) {}

  async call(method: string, url: string, options: CallOptions = {}): Promise<ApiResponse> {
    const headers: Record<string, string> = {};
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    const res = await this.api.app
      .getHttpAdapter()
      .getInstance()
      .inject({
        method: method as 'GET',
        url,
        remoteAddress: this.ip,
        headers,
        ...(options.body !== undefined ? { payload: options.body as object } : {}),
      });
    let body: unknown;
    try {
      body = res.body.length > 0 ? JSON.parse(res.body) : undefined;
    } catch {
      body = undefined;
    }
    return { status: res.statusCode, headers: res.headers, text: res.body, body };
  }

  /** Logs in and returns the token pair; throws on anything but 200 (usable in hooks too). */
  async login(email: string, password: string, tenant?: string): Promise<TokenPair> {
    leakRegistry.seeded('password', password);
    const res = await this.call('POST', '/v1/auth/login', { body: { email, password, ...(tenant ? { tenant } : {}) } });
    return (arranged(res, 200, 'login') as { body: TokenPair }).body;
  }
}

/**
 * A step of a test's arrangement (often in beforeAll, outside any test block): throws with what
 * came back when the status is not the expected one, so a broken setup never passes silently.
 */
export function arranged(res: ApiResponse, status: number, step: string): ApiResponse {
  if (res.status !== status) throw new Error(`${step}: expected ${status}, got ${res.status} ${res.text}`);
  return res;
}

/**
 * What a refusal is made of, to assert in one expect: its status, whether it is an RFC 9457
 * problem+json document that repeats that status, and its domain code if any.
 */
/**
 * An error of a route marked @OAuthErrors (the token endpoint) as problemOf would describe a
 * problem: `problemJson` is true when the answer is what that route must send instead, RFC 6749
 * 5.2 JSON with an `error` code (apps/api/src/partner/oauth-error.filter.ts).
 */
export function oauthErrorOf(res: ApiResponse): { status: number; problemJson: boolean; code?: string } {
  const body = (res.body ?? {}) as { error?: unknown; code?: unknown };
  const oauthJson = /^application\/json;charset=UTF-8$/.test(String(res.headers['content-type'])) && typeof body.error === 'string';
  return { status: res.status, problemJson: oauthJson, ...(typeof body.code === 'string' ? { code: body.code } : {}) };
}

export function problemOf(res: ApiResponse): { status: number; problemJson: boolean; code?: string } {
  const body = (res.body ?? {}) as { status?: unknown; code?: unknown };
  const problemJson = PROBLEM_JSON.test(String(res.headers['content-type'])) && body.status === res.status;
  return { status: res.status, problemJson, ...(typeof body.code === 'string' ? { code: body.code } : {}) };
}

/** Test users are created without a password; give them one through the owner connection. */
export async function setPasswords(owner: pg.Pool, userIds: string[], password: string): Promise<void> {
  leakRegistry.seeded('password', password);
  const hash = await hashPassword(password);
  await owner.query('UPDATE users SET password_hash = $1 WHERE id = ANY ($2::uuid[])', [hash, userIds]);
}

/** A password that satisfies the change-password rules, different on every call. */
export function testPassword(): string {
  return `pw-${randomBytes(12).toString('base64url')}`;
}
