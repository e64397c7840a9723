import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tag } from '../../../test/security/support/controls.js';
import { CONFIG_VARIABLES, SCRIPT_VARIABLES, SECRET_VARIABLES } from './config.schema.js';
import { ConfigError, internalDatabaseUrl, internalRolePassword, loadConfig, runtimeDatabaseUrl } from './load-config.js';
import { EnvironmentSecretSource, resolveSecret, SECRET_FILE_MAX_BYTES, type SecretSource } from './secret-source.js';

const errorOf = (env: NodeJS.ProcessEnv): ConfigError => {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
};

/** A production environment with freshly generated secrets, as the README's Docker section generates them. */
const generated = {
  appPassword: randomBytes(24).toString('base64url'),
  internalDbPassword: randomBytes(24).toString('base64url'),
  pepper: randomBytes(32).toString('base64url'),
  job: randomBytes(32).toString('base64url'),
  data: randomBytes(32).toString('base64'),
  internal: randomBytes(32).toString('base64url'),
};
const productionEnv = (): Record<string, string> => ({
  NODE_ENV: 'production',
  DATABASE_APP_URL: `postgresql://benteng_app:${generated.appPassword}@db/benteng`,
  DATABASE_APP_PASSWORD: generated.appPassword,
  AUTH_SIGNING_KEYS: '[{"kty":"OKP"}]',
  AUTH_TOKEN_PEPPER: generated.pepper,
  JOB_SIGNING_KEYS: `k1:${generated.job}`,
  DATA_ENCRYPTION_KEYS: `d1:${generated.data}`,
  INTERNAL_SERVICE_KEYS: `ops-cli:k1:${generated.internal}`,
});

describe('loadConfig', () => {
  it('uses documented defaults in development', () => {
    const sut = loadConfig({});
    expect(sut).toMatchObject({ NODE_ENV: 'development', PORT: 3000, HOST: '127.0.0.1', REDIS_URL: 'redis://127.0.0.1:6379', DATABASE_POOL_MAX: 10, LOG_PRETTY: false });
    expect(Object.isFrozen(sut)).toBe(true);
  });

  it('converts and validates values, treating empty strings as unset', () => {
    expect(loadConfig({ PORT: '8080', LOG_PRETTY: 'true', DATABASE_APP_URL: '' })).toMatchObject({ PORT: 8080, LOG_PRETTY: true, DATABASE_APP_URL: undefined });
  });

  it('takes PUBLIC_BASE_URL as an origin only (the OAuth metadata issuer), never with a path, query or credentials', () => {
    expect(loadConfig({ PUBLIC_BASE_URL: 'https://api.example.com' }).PUBLIC_BASE_URL).toBe('https://api.example.com');
    expect(loadConfig({ PUBLIC_BASE_URL: 'http://127.0.0.1:3000' }).PUBLIC_BASE_URL).toBe('http://127.0.0.1:3000');
    for (const value of ['https://api.example.com/', 'https://api.example.com/partner', 'https://api.example.com?x=1', 'https://user:pw@api.example.com', 'ftp://api.example.com', 'api.example.com']) {
      expect({ value, refused: errorOf({ PUBLIC_BASE_URL: value }).problems.map((p) => p.variable) }).toEqual({ value, refused: ['PUBLIC_BASE_URL'] });
    }
  });

  it('caps the access token lifetime at 15 minutes', () => {
    expect(errorOf({ ACCESS_TOKEN_TTL_S: '901' }).problems.map((p) => p.variable)).toEqual(['ACCESS_TOKEN_TTL_S']);
  });

  it('names every wrong variable and never echoes a value', () => {
    const sut = errorOf({ PORT: 'eighty-SENTINEL1', REDIS_URL: 'http://SENTINEL2', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://user:SENTINEL3@h/db' });
    expect([...new Set(sut.problems.map((p) => p.variable))].sort()).toEqual(['DATABASE_URL', 'LOG_LEVEL', 'PORT', 'REDIS_URL']);
    expect(sut.message).not.toMatch(/SENTINEL|eighty|loud|mysql/);
  });

  it('requires the runtime connection and its password in production', () => {
    const sut = errorOf({ NODE_ENV: 'production', DATABASE_APP_PASSWORD: 'short-SENTINEL', AUTH_TOKEN_PEPPER: 'short-SENTINEL' });
    expect([...new Set(sut.problems.map((p) => p.variable))].sort()).toEqual(['AUTH_SIGNING_KEYS', 'AUTH_TOKEN_PEPPER', 'DATABASE_APP_PASSWORD', 'DATABASE_APP_URL', 'DATA_ENCRYPTION_KEYS', 'INTERNAL_SERVICE_KEYS', 'JOB_SIGNING_KEYS']);
    expect(sut.message).not.toContain('SENTINEL');
    const ok = loadConfig(productionEnv());
    expect(runtimeDatabaseUrl(ok)).toBe(productionEnv()['DATABASE_APP_URL']);
  });

  it("requires the internal listener's connection where it is used in production (the API, db:migrate), never from the worker", () => {
    // The worker loads the same schema: production without the internal role's variables loads.
    const worker = loadConfig(productionEnv());
    expect(() => internalDatabaseUrl(worker)).toThrow(ConfigError);
    expect(() => internalDatabaseUrl(worker)).toThrow(/DATABASE_INTERNAL_URL is required when NODE_ENV=production/);
    expect(() => internalRolePassword(worker)).toThrow(/DATABASE_INTERNAL_PASSWORD is required when NODE_ENV=production/);
    const url = `postgresql://benteng_internal:${generated.internalDbPassword}@db/benteng`;
    const api = loadConfig({ ...productionEnv(), DATABASE_INTERNAL_URL: url, DATABASE_INTERNAL_PASSWORD: generated.internalDbPassword });
    expect(internalDatabaseUrl(api)).toBe(url);
    expect(internalRolePassword(api)).toBe(generated.internalDbPassword);
    // Validated whenever set, in every environment, without echoing the value.
    const sut = errorOf({ DATABASE_INTERNAL_URL: 'mysql://u:SENTINEL@h/db', DATABASE_INTERNAL_PASSWORD: 'short-SENTINEL' });
    expect(sut.problems.map((p) => p.variable).sort()).toEqual(['DATABASE_INTERNAL_PASSWORD', 'DATABASE_INTERNAL_URL']);
    expect(sut.message).not.toContain('SENTINEL');
  });

  it('refuses publicly known placeholders and development values in production, naming the variable only', () => {
    expect(() => loadConfig(productionEnv())).not.toThrow();
    const cases: Record<string, string> = {
      DATABASE_APP_PASSWORD: 'change-me-benteng-app-password',
      DATABASE_APP_URL: 'postgresql://benteng_app:benteng_app_dev_password@db/benteng',
      DATABASE_INTERNAL_PASSWORD: 'benteng_internal_dev_password',
      DATABASE_INTERNAL_URL: 'postgresql://benteng_internal:benteng_internal_dev_password@db/benteng',
      AUTH_TOKEN_PEPPER: 'change-me-token-pepper-of-at-least-32-characters',
      JOB_SIGNING_KEYS: 'k1:change-me-job-signing-secret-of-at-least-32-characters',
      INTERNAL_SERVICE_KEYS: `ops-cli:k1:${'i'.repeat(32)}`,
      DATA_ENCRYPTION_KEYS: `d1:${Buffer.alloc(32, 0).toString('base64')}`,
    };
    for (const [variable, value] of Object.entries(cases)) {
      const sut = errorOf({ ...productionEnv(), [variable]: value });
      expect({ variable, refused: sut.problems.map((p) => p.variable) }).toEqual({ variable, refused: [variable] });
      expect(sut.message).not.toContain(value);
      // Outside production the same value is accepted (development and tests use such values).
      expect(() => loadConfig({ ...productionEnv(), NODE_ENV: 'development', [variable]: value })).not.toThrow();
    }
  });

  it('refuses too-short keys in production', () => {
    const short = randomBytes(16).toString('base64url');
    const cases: Record<string, string> = {
      AUTH_TOKEN_PEPPER: short,
      JOB_SIGNING_KEYS: `k1:${short}`,
      INTERNAL_SERVICE_KEYS: `ops-cli:k1:${short}`,
      DATA_ENCRYPTION_KEYS: `d1:${randomBytes(16).toString('base64')}`,
      DATABASE_APP_PASSWORD: randomBytes(6).toString('base64url'),
      DATABASE_INTERNAL_PASSWORD: randomBytes(6).toString('base64url'),
    };
    for (const [variable, value] of Object.entries(cases)) {
      const sut = errorOf({ ...productionEnv(), [variable]: value });
      expect({ variable, refused: sut.problems.map((p) => p.variable) }).toEqual({ variable, refused: [variable] });
      expect(sut.message).not.toContain(value);
    }
  });

  it('derives the runtime role URL from the owner URL outside production', () => {
    const sut = loadConfig({ DATABASE_URL: 'postgresql://postgres:owner-secret@db.internal:5433/benteng?sslmode=require' });
    const url = new URL(runtimeDatabaseUrl(sut));
    expect(url.username).toBe('benteng_app');
    expect(url.password).toBe('benteng_app_dev_password');
    expect(url.host).toBe('db.internal:5433');
    expect(url.pathname).toBe('/benteng');
    expect(url.searchParams.get('sslmode')).toBe('require');
    const internal = new URL(internalDatabaseUrl(sut));
    expect({ user: internal.username, password: internal.password, host: internal.host, path: internal.pathname, sslmode: internal.searchParams.get('sslmode') }).toEqual({
      user: 'benteng_internal',
      password: 'benteng_internal_dev_password',
      host: 'db.internal:5433',
      path: '/benteng',
      sslmode: 'require',
    });
  });

  it('is documented variable by variable in .env.example', () => {
    // libs/config/src → the repository root (specs run from source only). Not projectRoot from
    // libs/database: libs/database imports libs/config, so that would be a cycle in the libs graph.
    const example = readFileSync(join(import.meta.dirname, '..', '..', '..', '.env.example'), 'utf8');
    const documented = [...example.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]).sort();
    expect(documented).toEqual([...CONFIG_VARIABLES, ...SCRIPT_VARIABLES].sort());
  });
});

describe('secrets from files (NAME_FILE)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'benteng-secrets-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  /** Writes `content` to a new file, as a Docker or Kubernetes secret mount holds it. */
  const secretFile = (content: string | Buffer): string => {
    const path = join(dir, `secret-${n++}`);
    writeFileSync(path, content, { mode: 0o400 });
    return path;
  };
  /** The production environment with every secret moved to a file (`echo` adds one newline). */
  const fileEnv = (): Record<string, string> => {
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(productionEnv())) {
      if ((SECRET_VARIABLES as readonly string[]).includes(name)) env[`${name}_FILE`] = secretFile(`${value}\n`);
      else env[name] = value;
    }
    return env;
  };

  it(tag('SECRETS-LIFECYCLE', 'every secret variable is read from NAME_FILE instead, one trailing newline trimmed, and validated like its environment form'), () => {
    const fromEnv = loadConfig(productionEnv());
    const fromFiles = loadConfig(fileEnv());
    expect(fromFiles).toEqual(fromEnv);
    expect(Object.keys(fileEnv()).filter((k) => k.endsWith('_FILE')).length).toBe(Object.keys(productionEnv()).length - 1);
    // Every secret the loader knows (URLs with passwords included), not only those production requires.
    const url = `postgresql://postgres:${randomBytes(12).toString('hex')}@db/benteng`;
    for (const variable of SECRET_VARIABLES) {
      const value = variable.endsWith('_URL') ? (variable === 'REDIS_URL' ? 'rediss://:pw-of-redis@cache:6380' : url)
        : variable === 'PAYMENTS_WEBHOOK_SECRET' ? `whsec_${randomBytes(32).toString('base64')}`
        : variable === 'KEY_RING_ROOT_KEYS' ? `r1:${randomBytes(32).toString('base64')}`
        : (productionEnv()[variable] ?? randomBytes(24).toString('hex'));
      const config = loadConfig({ ...productionEnv(), [variable]: undefined, [`${variable}_FILE`]: secretFile(`${value}\n`) });
      expect({ variable, value: config[variable] }).toEqual({ variable, value });
    }
    // Only one line break is trimmed: a CRLF file works, inner whitespace is kept and then validated.
    expect(loadConfig({ AUTH_TOKEN_PEPPER_FILE: secretFile(`${generated.pepper}\r\n`) }).AUTH_TOKEN_PEPPER).toBe(generated.pepper);
    expect(loadConfig({ AUTH_TOKEN_PEPPER_FILE: secretFile(generated.pepper) }).AUTH_TOKEN_PEPPER).toBe(generated.pepper);
    const twoLines = errorOf({ JOB_SIGNING_KEYS_FILE: secretFile(`k1:${generated.job}\n\n`) });
    expect(twoLines.problems.map((p) => p.variable)).toEqual(['JOB_SIGNING_KEYS']);
    // A pretty-printed JWK set (several lines) is still a JSON array.
    const jwks = JSON.stringify([{ kty: 'OKP', kid: 'k' }], null, 2);
    expect(loadConfig({ AUTH_SIGNING_KEYS_FILE: secretFile(`${jwks}\n`) }).AUTH_SIGNING_KEYS).toBe(jwks);
    // SEED_DEMO_PASSWORD goes through the same resolution (prisma/seed.ts, demoPassword).
    expect(resolveSecret('SEED_DEMO_PASSWORD', [new EnvironmentSecretSource({})])).toBeUndefined();
  });

  it(tag('SECRETS-LIFECYCLE', 'a secret set both as NAME and NAME_FILE is refused, naming both forms and neither value'), () => {
    for (const variable of SECRET_VARIABLES.filter((v) => productionEnv()[v] !== undefined)) {
      const other = `${variable === 'DATA_ENCRYPTION_KEYS' ? 'd2:' + randomBytes(32).toString('base64') : 'k2:' + randomBytes(32).toString('hex')}`;
      const env = { ...productionEnv(), [`${variable}_FILE`]: secretFile(`${other}\n`) };
      const sut = errorOf(env);
      expect({ variable, problems: sut.problems }).toEqual({ variable, problems: [{ variable, rule: `is set more than once (${variable} and ${variable}_FILE); set exactly one` }] });
      expect(sut.message).not.toContain(productionEnv()[variable]!);
      expect(sut.message).not.toContain(other);
      // Even when both hold the same value: the operator must know which one the process uses.
      expect(() => loadConfig({ ...productionEnv(), [`${variable}_FILE`]: secretFile(productionEnv()[variable]!) })).toThrow(/set exactly one/);
    }
  });

  it(tag('SECRETS-LIFECYCLE', 'an unreadable, empty, oversized or non-regular secret file stops the start with the _FILE variable and the reason, never the path or a value'), () => {
    const sub = join(dir, 'sub');
    mkdirSync(sub, { recursive: true });
    const dangling = join(dir, 'dangling');
    symlinkSync(join(dir, 'nowhere'), dangling);
    const cases: [string, string, RegExp][] = [
      [join(dir, 'missing-SENTINEL'), 'cannot be read (ENOENT)', /ENOENT/],
      [dangling, 'cannot be read (ENOENT)', /ENOENT/],
      [sub, 'must name a regular file', /regular file/],
      [secretFile(''), 'names an empty file', /empty/],
      [secretFile('\n'), 'names an empty file', /empty/],
      [secretFile(Buffer.alloc(SECRET_FILE_MAX_BYTES + 1, 0x61)), `names a file larger than ${SECRET_FILE_MAX_BYTES} bytes`, /larger/],
      [secretFile(Buffer.from([0xff, 0xfe, 0x41])), 'names a file that is not UTF-8 text', /UTF-8/],
      // The secret itself pasted into the _FILE variable by mistake: refused without echoing it.
      [generated.pepper, 'cannot be read (ENOENT)', /ENOENT/],
    ];
    for (const [path, rule] of cases) {
      const sut = errorOf({ ...productionEnv(), AUTH_TOKEN_PEPPER: undefined, AUTH_TOKEN_PEPPER_FILE: path });
      expect({ path, problems: sut.problems }).toEqual({ path, problems: [{ variable: 'AUTH_TOKEN_PEPPER_FILE', rule: expect.stringContaining(rule) }] });
      expect(sut.message).not.toContain(path);
      expect(sut.message).not.toContain('SENTINEL');
      expect(sut.message).not.toContain(generated.pepper);
    }
  });

  it(tag('LOG-REDACTION', 'a secret file whose content breaks a rule is reported by variable and rule, never by value'), () => {
    const value = `short-SENTINEL-${randomBytes(4).toString('hex')}`;
    const sut = errorOf({ ...productionEnv(), JOB_SIGNING_KEYS: undefined, JOB_SIGNING_KEYS_FILE: secretFile(`k1:${value}\n`), AUTH_TOKEN_PEPPER: undefined, AUTH_TOKEN_PEPPER_FILE: secretFile('change-me-token-pepper-of-at-least-32-characters\n') });
    expect(sut.problems.map((p) => p.variable).sort()).toEqual(['AUTH_TOKEN_PEPPER', 'JOB_SIGNING_KEYS']);
    expect(sut.message).not.toContain('SENTINEL');
    expect(sut.message).not.toContain('change-me');
  });

  it('takes other secret sources through the same seam (a secret manager fetched before start)', () => {
    const manager: SecretSource = { read: (variable) => (variable === 'AUTH_TOKEN_PEPPER' ? { via: 'vault kv secret/benteng#pepper', value: generated.pepper } : undefined) };
    const env = { ...productionEnv(), AUTH_TOKEN_PEPPER: undefined };
    expect(loadConfig(env, [new EnvironmentSecretSource(env), manager]).AUTH_TOKEN_PEPPER).toBe(generated.pepper);
    const both = (() => {
      try {
        loadConfig(productionEnv(), [new EnvironmentSecretSource(productionEnv()), manager]);
      } catch (error) {
        return (error as ConfigError).problems;
      }
      return [];
    })();
    expect(both).toEqual([{ variable: 'AUTH_TOKEN_PEPPER', rule: 'is set more than once (AUTH_TOKEN_PEPPER and vault kv secret/benteng#pepper); set exactly one' }]);
  });
});
