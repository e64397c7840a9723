import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tag, type ControlId } from './controls.js';

/**
 * Kill-switch proof (issue 8): for a control, one attack run twice, against a target built with the
 * control and against one built with that control replaced by a no-op. The attack must be blocked
 * in the first and succeed in the second; if it is blocked both times the test does not prove the
 * control, and the kill-switch test fails ("not detected").
 *
 * A scenario is plain data (no test registered at import), so test/security/controls-catalog.spec.ts
 * can check that every control in CONTROLS has one without running them. Spec files run them with
 * `runKillSwitches(scenarios)`.
 *
 * Each run writes its outcome and the recorded exchanges to .data/security/kill-switch/, which
 * `npm run security:report` turns into docs/controls.md and the training report.
 */

/** One HTTP request and its response, as the training report shows it. */
export interface Exchange {
  request: { method: string; url: string; headers?: Record<string, string>; body?: unknown };
  response: { status: number; headers?: Record<string, string>; body?: unknown };
}

/** What one run of the attack observed. */
export interface AttackResult {
  /** True when the attack achieved its goal (read foreign data, acted without permission, …). */
  succeeded: boolean;
  /** One line saying what was observed, e.g. "GET /v1/invoices/:id answered 200 with B's invoice". */
  observed: string;
  /** The request(s) that make the attack, with their responses (first one is shown in the report). */
  exchanges: Exchange[];
}

/** A running system under attack, with the control present or removed. */
export interface Target {
  close(): Promise<void>;
}

export interface KillSwitchScenario<T extends Target = Target, F = unknown> {
  control: ControlId;
  /** The attack, e.g. 'a token signed with alg "none" reads an invoice'. */
  attack: string;
  /** The control replaced by a no-op, e.g. 'AccessTokens.verify replaced by a decoder that verifies nothing'. */
  removal: string;
  /** Fixtures shared by both runs (tenants, users, credentials), made once. */
  fixtures?: () => Promise<F>;
  /** Builds the system with the control (`intact`) or with the control removed. */
  target(intact: boolean, fixtures: F): Promise<T>;
  /** Runs the attack against a target and says whether it succeeded. */
  run(target: T, fixtures: F): Promise<AttackResult>;
  /** Milliseconds each run may take, when more than the project's test timeout (a timed measurement). */
  timeoutMs?: number;
}

/** Keeps a scenario's types when put in a heterogeneous list. */
export function scenario<T extends Target, F>(definition: KillSwitchScenario<T, F>): KillSwitchScenario {
  return definition as unknown as KillSwitchScenario;
}

export const KILL_SWITCH_DIR = join(process.cwd(), '.data', 'security', 'kill-switch');

const slug = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 60);

export interface KillSwitchRecord {
  control: ControlId;
  attack: string;
  removal: string;
  withControl?: AttackResult;
  withoutControl?: AttackResult;
  /** detected: blocked with the control and succeeded without it. */
  outcome: 'detected' | 'not detected' | 'attack not blocked' | 'incomplete';
}

function outcomeOf(record: KillSwitchRecord): KillSwitchRecord['outcome'] {
  if (!record.withControl || !record.withoutControl) return 'incomplete';
  if (record.withControl.succeeded) return 'attack not blocked';
  return record.withoutControl.succeeded ? 'detected' : 'not detected';
}

/** Registers, for each scenario, the "blocked with the control" and the "kill switch" tests. */
export function runKillSwitches(scenarios: readonly KillSwitchScenario[]): void {
  for (const s of scenarios) {
    describe(tag(s.control, `attack: ${s.attack}`), () => {
      const record: KillSwitchRecord = { control: s.control, attack: s.attack, removal: s.removal, outcome: 'incomplete' };
      let fixtures: unknown;
      beforeAll(async () => {
        fixtures = s.fixtures ? await s.fixtures() : undefined;
      });
      afterAll(() => {
        record.outcome = outcomeOf(record);
        mkdirSync(KILL_SWITCH_DIR, { recursive: true });
        writeFileSync(join(KILL_SWITCH_DIR, `${s.control}--${slug(s.attack)}.json`), `${JSON.stringify(record, null, 2)}\n`);
      });

      const attempt = async (intact: boolean): Promise<AttackResult> => {
        const target = await s.target(intact, fixtures);
        try {
          return await s.run(target, fixtures);
        } finally {
          await target.close();
        }
      };

      it('is blocked with the control in place', async () => {
        record.withControl = await attempt(true);
        expect(record.withControl.succeeded, `the attack succeeded against the intact system: ${record.withControl.observed}`).toBe(false);
      }, s.timeoutMs);

      it(`kill switch: succeeds once ${s.removal}`, async () => {
        record.withoutControl = await attempt(false);
        expect(
          record.withoutControl.succeeded,
          `kill switch not detected: with the control removed (${s.removal}) the attack still failed (${record.withoutControl.observed}), so this test does not prove the control`,
        ).toBe(true);
      }, s.timeoutMs);
    });
  }
}

/** Header names worth showing in the training report; everything else is noise there. */
const SHOWN_HEADERS = new Set([
  'authorization',
  'content-type',
  'signature',
  'signature-input',
  'content-digest',
  'accept-signature',
  'x-api-key',
  'x-forwarded-for',
  'retry-after',
  'ratelimit',
  'ratelimit-policy',
  'www-authenticate',
  'content-security-policy',
  'x-content-type-options',
  'x-frame-options',
  'access-control-allow-origin',
  'access-control-allow-credentials',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'location',
  'x-benteng-key-id',
  'x-benteng-timestamp',
  'x-benteng-nonce',
  'x-benteng-signature',
  'x-benteng-operator',
  'x-benteng-reason',
]);

/** Picks the headers the report shows, as strings. */
export function shownHeaders(headers: Record<string, unknown> | undefined): Record<string, string> | undefined {
  if (!headers) return undefined;
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (SHOWN_HEADERS.has(name.toLowerCase()) && value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

export interface ExchangeOptions {
  /**
   * For a list whose rows depend on the whole shared test database (every tenant of the platform):
   * what the items are, shown instead of them, so the training report stays the same between runs.
   */
  itemsAre?: string;
}

/**
 * An Exchange from a request description and a response as the test helpers return it
 * (PublicClient's ApiResponse, supertest's Response or Fastify inject's LightMyRequest response).
 */
export function exchange(
  request: { method: string; url: string; headers?: Record<string, unknown>; body?: unknown },
  response: { status?: number; statusCode?: number; headers: Record<string, unknown>; body?: unknown; text?: string },
  options: ExchangeOptions = {},
): Exchange {
  const status = response.status ?? response.statusCode ?? 0;
  let body: unknown = response.body;
  if (typeof body === 'string' || body === undefined || (typeof body === 'object' && body !== null && Object.keys(body).length === 0 && response.text)) {
    const text = typeof body === 'string' ? body : (response.text ?? '');
    try {
      body = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      body = text.length > 600 ? `${text.slice(0, 600)}…` : text;
    }
  }
  if (options.itemsAre && body && typeof body === 'object' && Array.isArray((body as { items?: unknown }).items)) {
    body = { ...(body as object), items: [`<${options.itemsAre}>`] };
  }
  return {
    request: { method: request.method.toUpperCase(), url: request.url, headers: shownHeaders(request.headers), ...(request.body !== undefined ? { body: request.body } : {}) },
    response: { status, headers: shownHeaders(response.headers), ...(body !== undefined ? { body } : {}) },
  };
}
