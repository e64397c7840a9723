import type { CredentialKind } from '@benteng/common';
/**
 * Secret leakage across a whole test file (docs/architecture.md, invariant 8, issue 8): every secret the
 * test helpers seed or obtain is registered here, every app built by test/support/api.ts records
 * every response body and its log capture here, and test/support/setup-env.ts fails the file in an
 * afterAll when a registered secret appears
 * - in any log line, or
 * - in any response body other than the one response that issued it (a credential is revealed
 *   once, at creation; a password, pepper or signing key never appears in a response).
 *
 * State is per test file: each file runs in its own worker with its own module graph. The search is
 * one substring scan per secret over the captured text, once per file.
 */

/**
 * What kind of secret, for the failure message (the value itself is never printed): every kind the
 * application mints (libs/common/src/credentials.ts, one list) plus what tests seed.
 */
export type SecretKind = CredentialKind | 'password' | 'signing key' | 'token pepper' | 'credential';

interface SeededSecret {
  kind: SecretKind;
  /** How many response bodies may carry it: 1 when a response issued it, 0 when it was seeded. */
  issuedInResponses: number;
}

export interface CapturedResponse {
  method: string;
  url: string;
  status: number;
  body: string;
}

/** Anything that holds captured log text (test/support/api.ts LogCapture). */
export interface CapturedLog {
  raw: string;
}

export interface Leak {
  kind: SecretKind;
  /** The first characters of the secret only. */
  hint: string;
  where: string;
}

/** Shortest value worth searching for: shorter strings would match by accident. */
const MIN_SECRET_LENGTH = 12;

export class LeakRegistry {
  private readonly secrets = new Map<string, SeededSecret>();
  private readonly logs = new Set<CapturedLog>();
  private readonly responses: CapturedResponse[] = [];

  /** A secret seeded by a test (password, DB-created key, env key): no response may ever carry it. */
  seeded(kind: SecretKind, ...values: (string | undefined | null)[]): void {
    for (const value of values) this.add(value, kind, 0);
  }

  /** A credential a response issued (login tokens, a created secret): that one response may carry it. */
  issued(kind: SecretKind, ...values: (string | undefined | null)[]): void {
    for (const value of values) this.add(value, kind, 1);
  }

  private add(value: string | undefined | null, kind: SecretKind, issuedInResponses: number): void {
    if (typeof value !== 'string' || value.length < MIN_SECRET_LENGTH) return;
    const known = this.secrets.get(value);
    // Seeded wins over issued: a password echoed by its login response is still a leak.
    if (!known || issuedInResponses < known.issuedInResponses) this.secrets.set(value, { kind, issuedInResponses });
  }

  watchLogs(log: CapturedLog): void {
    this.logs.add(log);
  }

  recordResponse(response: CapturedResponse): void {
    if (response.body.length > 0) this.responses.push(response);
  }

  get counts(): { secrets: number; logs: number; responses: number } {
    return { secrets: this.secrets.size, logs: this.logs.size, responses: this.responses.length };
  }

  /** Every registered secret found where it must not be. */
  leaks(): Leak[] {
    const logText = [...this.logs].map((log) => log.raw).join('\n');
    // One text for all bodies; starts[i] is where response i begins in it.
    const starts: number[] = [];
    let length = 0;
    for (const r of this.responses) {
      starts.push(length);
      length += r.body.length + 1;
    }
    const bodies = this.responses.map((r) => r.body).join('\u0000');
    const responseAt = (offset: number): number => {
      let lo = 0;
      let hi = starts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (starts[mid]! <= offset) lo = mid;
        else hi = mid - 1;
      }
      return lo;
    };
    const found: Leak[] = [];
    for (const [value, secret] of this.secrets) {
      const hint = `${value.slice(0, 6)}…`;
      if (logText.includes(value)) found.push({ kind: secret.kind, hint, where: 'a log line' });
      const carriers: number[] = [];
      for (let at = bodies.indexOf(value); at !== -1; at = bodies.indexOf(value, at + value.length)) {
        const index = responseAt(at);
        if (carriers.at(-1) !== index) carriers.push(index);
      }
      for (const index of carriers.slice(secret.issuedInResponses)) {
        const r = this.responses[index]!;
        found.push({ kind: secret.kind, hint, where: `the response body of ${r.method} ${r.url.split('?')[0]} (${r.status})` });
      }
    }
    return found;
  }

  /** Forgets everything (a spec proving the detector starts from a clean slate). */
  clear(): void {
    this.secrets.clear();
    this.logs.clear();
    this.responses.length = 0;
  }
}

/** This test file's registry. */
export const leakRegistry = new LeakRegistry();

/** The secret parts of the environment a test process runs with (setup-env.ts). */
export function registerEnvironmentSecrets(env: NodeJS.ProcessEnv): void {
  leakRegistry.seeded('token pepper', env.AUTH_TOKEN_PEPPER);
  try {
    const keys = JSON.parse(env.AUTH_SIGNING_KEYS ?? '[]') as { d?: string }[];
    for (const key of keys) leakRegistry.seeded('signing key', key.d);
  } catch {
    // Not JSON: nothing to register beyond what the app validates.
  }
}
