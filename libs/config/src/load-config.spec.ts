import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, SCRIPT_VARIABLES } from './config.schema.js';
import { ConfigError, internalDatabaseUrl, internalRolePassword, loadConfig, runtimeDatabaseUrl } from './load-config.js';

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
