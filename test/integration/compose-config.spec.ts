import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { generateSigningJwk, parseSigningKeys } from '@benteng/auth';
import { ConfigError, internalDatabaseUrl, internalRolePassword, loadConfig, ownerDatabaseUrl, runtimeDatabaseUrl, SECRET_VARIABLES } from '@benteng/config';
import { projectRoot } from '@benteng/database';
import { tag } from '../security/support/controls.js';

/**
 * docker-compose.yml as `docker compose up` would run it, without Docker: the file is parsed (YAML
 * merge keys included), each service's environment is interpolated the way compose does
 * (`${VAR}`, `${VAR:-default}`, `${VAR:?message}`, `$$`), with the secrets generated exactly as the
 * README's Docker section generates them, and the configuration loader runs on it. Issue 17: the
 * API and the worker used to exit at start in production mode (INTERNAL_SERVICE_KEYS unset), and
 * compose supplied publicly known `change-me…` secrets that production accepted.
 */

const root = projectRoot();
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, { build?: unknown; environment?: Record<string, string | number> | string[] }>;
};

class MissingVariable extends Error {
  constructor(readonly variable: string) {
    super(`compose refuses to start: ${variable} is required`);
  }
}

/** Compose's interpolation (the subset the file may use); `:?` and `?` refuse a missing value. */
function interpolate(template: string, vars: Record<string, string | undefined>): string {
  return template.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])((?:[^}])*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (match, braced?: string, colon?: string, op?: string, arg?: string, bare?: string) => {
    if (match === '$$') return '$';
    const name = (braced ?? bare)!;
    const value = vars[name];
    const missing = value === undefined || (colon === ':' && value === '');
    if (op === '?' && missing) throw new MissingVariable(name);
    if (op === '-' && missing) return arg ?? '';
    return value ?? '';
  });
}

/** Every service's environment as its container would see it. */
function environments(vars: Record<string, string | undefined>): Record<string, Record<string, string>> {
  return Object.fromEntries(
    Object.entries(compose.services).map(([name, service]) => {
      const raw = service.environment ?? {};
      const entries: [string, string][] = Array.isArray(raw) ? raw.map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]) : Object.entries(raw).map(([k, v]) => [k, String(v)]);
      return [name, Object.fromEntries(entries.map(([k, v]) => [k, interpolate(v, vars)]))];
    }),
  );
}

/** The services built from this repository: each runs the configuration loader at start. */
const appServices = Object.entries(compose.services)
  .filter(([, service]) => service.build !== undefined)
  .map(([name]) => name);

/** The variables the README's Docker section writes to .env.docker, each generated as it says. */
async function readmeVariables(): Promise<Record<string, string>> {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const block = /cat > \.env\.docker <<EOF\n([\s\S]*?)\nEOF\n/.exec(readme);
  if (!block) throw new Error('README: no .env.docker recipe in the Docker section');
  const vars: Record<string, string> = {};
  for (const line of block[1]!.split('\n')) {
    const [, name, recipe] = /^([A-Z_]+)=(.*)$/.exec(line) ?? [];
    if (!name || recipe === undefined) throw new Error(`README: unreadable line in the .env.docker recipe: ${line}`);
    let value = recipe.replace(/^'(.*)'$/, '$1');
    const jwk = JSON.stringify([await generateSigningJwk()]);
    value = value
      .replace(/\$\(openssl rand -hex (\d+)\)/g, (_, n: string) => randomBytes(Number(n)).toString('hex'))
      .replace(/\$\(openssl rand -base64 (\d+)\)/g, (_, n: string) => randomBytes(Number(n)).toString('base64'))
      .replace(/\$\(npm run -s keys:generate[^)]*\)/g, () => jwk);
    if (value.includes('$(')) throw new Error(`README: a recipe this test cannot run: ${recipe}`);
    vars[name] = value;
  }
  return vars;
}

function configErrorOf(env: Record<string, string>): ConfigError | undefined {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  return undefined;
}

/** The publicly known defaults docker-compose.yml used to ship (issue 17). */
const OLD_PLACEHOLDERS: Record<string, string> = {
  DATABASE_APP_PASSWORD: 'change-me-benteng-app-password',
  POSTGRES_PASSWORD: 'change-me-owner-password',
  AUTH_TOKEN_PEPPER: 'change-me-token-pepper-of-at-least-32-characters',
  JOB_SIGNING_KEYS: 'k1:change-me-job-signing-secret-of-at-least-32-characters',
  INTERNAL_SERVICE_KEYS: 'ops-cli:k1:change-me-internal-service-secret-of-32-chars',
  SEED_DEMO_PASSWORD: 'benteng-demo-only',
};

describe('docker-compose.yml', () => {
  it('builds the migrate job, the API and the worker from this repository; the API and the worker run in production mode', () => {
    expect(appServices.sort()).toEqual(['api', 'migrate', 'worker']);
    const env = environments(Object.fromEntries(Object.keys(OLD_PLACEHOLDERS).map((k) => [k, 'x']).concat([['AUTH_SIGNING_KEYS', 'x'], ['DATA_ENCRYPTION_KEYS', 'x'], ['DATABASE_INTERNAL_PASSWORD', 'x']])));
    expect({ api: env['api']!['NODE_ENV'], worker: env['worker']!['NODE_ENV'] }).toEqual({ api: 'production', worker: 'production' });
  });

  it("starts every service with the secrets generated as the README says: each passes the configuration loader (production's for the API and the worker)", async () => {
    const vars = await readmeVariables();
    const env = environments(vars);
    for (const service of appServices) {
      const problems = configErrorOf(env[service]!)?.problems ?? [];
      expect({ service, problems }).toEqual({ service, problems: [] });
      const config = loadConfig(env[service]!);
      expect(runtimeDatabaseUrl(config), `${service}`).toMatch(/^postgresql:\/\/benteng_app:[0-9a-f]{48}@postgres:5432\/benteng$/);
      // The signing key the README generates is one the API loads.
      expect((await parseSigningKeys(config.AUTH_SIGNING_KEYS!)).length, `${service}`).toBe(1);
    }
    expect(ownerDatabaseUrl(loadConfig(env['migrate']!))).toBe(`postgresql://benteng_owner:${vars['POSTGRES_PASSWORD']}@postgres:5432/benteng`);
    // The internal listener logs in as benteng_internal with the password the migrate job gives it;
    // the worker holds neither (a compromised worker cannot call the operator functions).
    expect(internalDatabaseUrl(loadConfig(env['api']!))).toBe(`postgresql://benteng_internal:${vars['DATABASE_INTERNAL_PASSWORD']}@postgres:5432/benteng`);
    expect(vars['DATABASE_INTERNAL_PASSWORD']).toMatch(/^[0-9a-f]{48}$/);
    expect(internalRolePassword(loadConfig(env['migrate']!))).toBe(vars['DATABASE_INTERNAL_PASSWORD']);
    expect(Object.keys(env['worker']!).filter((k) => k.startsWith('DATABASE_INTERNAL_'))).toEqual([]);
    expect(() => internalDatabaseUrl(loadConfig(env['worker']!))).toThrow(ConfigError);
    // The API and the worker get every other secret production requires, and the same ones (they verify each other's jobs).
    const internalOnly = ['DATABASE_INTERNAL_URL', 'DATABASE_INTERNAL_PASSWORD'];
    // KEY_RING_ROOT_KEYS is optional: without it the demo stack has no key ring (AUTH_SIGNING_KEYS signs; docs/operations.md, "Key rotation").
    for (const variable of SECRET_VARIABLES.filter((v) => v !== 'DATABASE_URL' && v !== 'PAYMENTS_WEBHOOK_SECRET' && v !== 'KEY_RING_ROOT_KEYS' && !internalOnly.includes(v))) {
      expect({ variable, api: env['api']![variable] !== undefined }).toEqual({ variable, api: true });
      expect({ variable, same: env['worker']![variable] === env['api']![variable] }).toEqual({ variable, same: true });
    }
  });

  it('refuses to start while any secret is unset: every secret is `${VAR:?…}`, none has a default', async () => {
    const vars = await readmeVariables();
    expect(Object.keys(vars).sort()).toEqual(['AUTH_SIGNING_KEYS', 'AUTH_TOKEN_PEPPER', 'DATABASE_APP_PASSWORD', 'DATABASE_INTERNAL_PASSWORD', 'DATA_ENCRYPTION_KEYS', 'INTERNAL_SERVICE_KEYS', 'JOB_SIGNING_KEYS', 'POSTGRES_PASSWORD', 'SEED_DEMO_PASSWORD']);
    for (const variable of Object.keys(vars)) {
      for (const unset of [undefined, '']) {
        let refused: unknown;
        try {
          environments({ ...vars, [variable]: unset });
        } catch (error) {
          refused = error;
        }
        expect({ variable, refused: (refused as MissingVariable | undefined)?.variable }).toEqual({ variable, refused: variable });
      }
    }
    const text = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
    expect(text).not.toMatch(/change-me|benteng-demo-only/);
    for (const variable of Object.keys(vars)) expect({ variable, withDefault: new RegExp(`\\$\\{${variable}:?-`).test(text) }).toEqual({ variable, withDefault: false });
  });

  it("production refuses compose's old placeholder secrets at start, naming each variable and never echoing the value", async () => {
    const vars = await readmeVariables();
    for (const [variable, placeholder] of Object.entries(OLD_PLACEHOLDERS)) {
      if (variable === 'POSTGRES_PASSWORD' || variable === 'SEED_DEMO_PASSWORD') continue; // Not read by the API or the worker.
      const env = environments({ ...vars, [variable]: placeholder });
      for (const service of ['api', 'worker']) {
        const error = configErrorOf(env[service]!);
        expect({ service, variable, refused: error?.problems.map((p) => p.variable).includes(variable) }).toEqual({ service, variable, refused: true });
        expect(error!.message).not.toContain(placeholder.split(':').at(-1)!);
      }
    }
  });

  it(tag('JOB-ENVELOPE', 'production refuses a publicly known or too-short job signing key at start'), async () => {
    const vars = await readmeVariables();
    for (const value of [OLD_PLACEHOLDERS['JOB_SIGNING_KEYS']!, `k1:${randomBytes(12).toString('hex')}`, `k1:${'0'.repeat(64)}`]) {
      const error = configErrorOf(environments({ ...vars, JOB_SIGNING_KEYS: value })['worker']!);
      expect(error?.problems.map((p) => p.variable)).toEqual(['JOB_SIGNING_KEYS']);
      expect(error!.message).not.toContain(value.slice(3));
    }
  });

  it(tag('AUTHN-SERVICE-SIGNATURE', 'production refuses a publicly known or too-short internal service key at start'), async () => {
    const vars = await readmeVariables();
    for (const value of [OLD_PLACEHOLDERS['INTERNAL_SERVICE_KEYS']!, `ops-cli:k1:${randomBytes(12).toString('hex')}`, `ops-cli:k1:${'a'.repeat(40)}`]) {
      const error = configErrorOf(environments({ ...vars, INTERNAL_SERVICE_KEYS: value })['api']!);
      expect(error?.problems.map((p) => p.variable)).toEqual(['INTERNAL_SERVICE_KEYS']);
      expect(error!.message).not.toContain(value.slice('ops-cli:k1:'.length));
    }
  });
});
