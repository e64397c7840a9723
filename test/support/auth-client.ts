import { randomBytes, randomUUID } from 'node:crypto';
import type pg from 'pg';
import request from 'supertest';
import { decodeJwt } from 'jose';
import { hashPassword, type TokenPair } from '@benteng/auth';
import type { MembershipRole } from '@benteng/database';
import { buildApi, type BuildApiOptions, type LogCapture, type TestApi } from './api.js';
import { leakRegistry } from './leak-registry.js';

export const PROBLEM_JSON = /^application\/problem\+json/;

/** A client address from 10.0.0.0/8, different for every Caller. */
export const randomIp = (): string => `10.${[...randomBytes(3)].join('.')}`;

/** A password that satisfies the change-password rules, different on every call. */
export const randomPassword = (): string => `pw-${randomBytes(12).toString('base64url')}`;

/**
 * The API as the auth tests run it: X-Forwarded-For is believed from the loopback peer (supertest
 * connects from 127.0.0.1), so every Caller presents its own client address. The login and refresh
 * throttles count failures per IP in the shared Redis; without this, every test file on the machine
 * (and every run within LOGIN_WINDOW_S) would share one budget as 127.0.0.1.
 */
export function buildAuthApi(options: BuildApiOptions = {}): Promise<TestApi> {
  return buildApi({ ...options, env: { TRUSTED_PROXIES: '127.0.0.1', ...options.env } });
}

/**
 * Every credential a test file issued or used, and every log its apps wrote: the file's last test
 * asserts that no log line ever carried one (docs/architecture.md, invariant 8).
 *
 * Watch every app a file builds, and read lines through `lines()`: nestjs-pino keeps one pino-http
 * instance per process, so every app built after the first writes into the FIRST app's capture,
 * and a later app's own `logs` stays empty.
 */
export class SecretLedger {
  private readonly secrets = new Set<string>();
  private readonly logs = new Set<LogCapture>();

  watch(api: TestApi): TestApi {
    this.logs.add(api.logs);
    return api;
  }

  add(...values: (string | undefined)[]): void {
    for (const value of values) if (value) this.secrets.add(value);
    leakRegistry.issued('credential', ...values);
  }

  /** Tokens found in a response body (login, refresh, switch-tenant). */
  addTokensFrom(body: unknown): void {
    if (body && typeof body === 'object') {
      const { accessToken, refreshToken } = body as Partial<TokenPair>;
      this.add(accessToken, refreshToken);
    }
  }

  get counts(): { secrets: number; logLines: number } {
    return { secrets: this.secrets.size, logLines: [...this.logs].reduce((n, log) => n + log.lines.length, 0) };
  }

  /** Every log line of every watched app. */
  lines(): Record<string, unknown>[] {
    return [...this.logs].flatMap((log) => log.lines);
  }

  /** The secrets that appear in some captured log, cut short so the failure message does not print them. */
  leaks(): string[] {
    const raw = [...this.logs].map((log) => log.raw).join('\n');
    return [...this.secrets].filter((secret) => raw.includes(secret)).map((secret) => `${secret.slice(0, 12)}…`);
  }
}

/** A successful login or refresh, with what its access token says. */
export interface Session extends TokenPair {
  sessionId: string;
  userId: string;
}

export function sessionOf(pair: TokenPair): Session {
  const claims = decodeJwt(pair.accessToken);
  return { ...pair, sessionId: String(claims.sid), userId: String(claims.sub) };
}

export interface CallOptions {
  /** Bearer access token. */
  token?: string;
  /** Sent as JSON. */
  body?: object;
  headers?: Record<string, string>;
}

/**
 * One client of the public API over supertest, from its own address (X-Forwarded-For). Every
 * password it sends and every token it receives goes into the file's SecretLedger.
 */
export class Caller {
  constructor(
    readonly api: TestApi,
    private readonly ledger: SecretLedger,
    readonly ip: string = randomIp(),
  ) {
    ledger.watch(api);
  }

  async call(method: 'get' | 'post' | 'patch' | 'delete', path: string, options: CallOptions = {}): Promise<request.Response> {
    let test = request(this.api.app.getHttpServer())[method](path).set('x-forwarded-for', this.ip);
    if (options.token !== undefined) test = test.set('authorization', `Bearer ${options.token}`);
    for (const [name, value] of Object.entries(options.headers ?? {})) test = test.set(name, value);
    const res = options.body === undefined ? await test : await test.send(options.body);
    this.ledger.addTokensFrom(res.body);
    return res;
  }

  me(token: string, options: Omit<CallOptions, 'token'> = {}): Promise<request.Response> {
    return this.call('get', '/v1/me', { ...options, token });
  }

  login(email: string, password: string, tenant?: string): Promise<request.Response> {
    leakRegistry.seeded('password', password);
    this.ledger.add(password);
    return this.call('post', '/v1/auth/login', { body: { email, password, ...(tenant === undefined ? {} : { tenant }) } });
  }

  /** Logs in; throws (failing the test) on anything but 200. The error quotes the problem body, which never carries secrets. */
  async loginOk(email: string, password: string, tenant?: string): Promise<Session> {
    const res = await this.login(email, password, tenant);
    if (res.status !== 200) throw new Error(`login answered ${res.status}: ${res.text}`);
    return sessionOf(res.body as TokenPair);
  }

  refresh(refreshToken: string): Promise<request.Response> {
    this.ledger.add(refreshToken);
    return this.call('post', '/v1/auth/refresh', { body: { refreshToken } });
  }

  async refreshOk(refreshToken: string): Promise<Session> {
    const res = await this.refresh(refreshToken);
    if (res.status !== 200) throw new Error(`refresh answered ${res.status}: ${res.text}`);
    return sessionOf(res.body as TokenPair);
  }
}

/** Test users have no password; give one (argon2id, as the app stores it) through the owner connection. */
export async function setPassword(owner: pg.Pool, ledger: SecretLedger, userId: string, password: string = randomPassword()): Promise<string> {
  leakRegistry.seeded('password', password);
  ledger.add(password);
  await owner.query('UPDATE users SET password_hash = $1 WHERE id = $2', [await hashPassword(password), userId]);
  return password;
}

/** Makes an existing user a member of another tenant; returns the membership id. */
export async function addMembership(owner: pg.Pool, tenantId: string, userId: string, role: MembershipRole): Promise<string> {
  const id = randomUUID();
  const client = await owner.connect();
  try {
    await client.query('BEGIN');
    await client.query("SELECT set_config('app.tenant_id', $1, true)", [tenantId]);
    await client.query('INSERT INTO memberships (tenant_id, id, user_id, role) VALUES ($1, $2, $3, $4)', [tenantId, id, userId, role]);
    await client.query('COMMIT');
    return id;
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
}

/** A problem body without its request id, to compare two refusals. */
export function withoutRequestId(body: unknown): Record<string, unknown> {
  const { requestId: _requestId, ...rest } = body as Record<string, unknown>;
  return rest;
}

/** The log lines one request wrote, by its request id. */
export function logLinesOf(api: TestApi, res: request.Response): Record<string, unknown>[] {
  const id = res.headers['x-request-id'];
  return api.logs.lines.filter((line) => (line.req as { id?: string } | undefined)?.id === id);
}
