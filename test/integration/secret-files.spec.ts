import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseSigningKeys } from '@benteng/auth';
import { ConfigError, dataEncryptionKeys, jobSigningKeys, loadConfig, runtimeDatabaseUrl, SECRET_VARIABLES } from '@benteng/config';
import { projectRoot } from '@benteng/database';
import { tag } from '../security/support/controls.js';

/**
 * docs/configuration.md, "Example: Docker Compose secrets", as a reader would run it: the shell
 * block is executed by bash in a scratch directory (openssl and the real `npm run -s keys:generate`,
 * i.e. the compiled libs/auth/src/keys.cli.ts), the compose block is parsed, each secret is mounted
 * where compose mounts it (/run/secrets/<name> → the generated file) and the worker's environment is
 * given to the configuration loader in production mode.
 */

const root = projectRoot();
const doc = readFileSync(join(root, 'docs', 'configuration.md'), 'utf8');
const block = (marker: string, lang: string): string => {
  const match = new RegExp(`<!-- secret-files:${marker} -->\\n\`\`\`${lang}\\n([\\s\\S]*?)\\n\`\`\`\\n`).exec(doc);
  if (!match) throw new Error(`docs/configuration.md: no ${lang} block after <!-- secret-files:${marker} -->`);
  return match[1]!;
};

const scratch = mkdtempSync(join(tmpdir(), 'benteng-secret-files-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs the documented commands; `npm run -s keys:generate` is the project's own script, compiled. */
function runGenerateBlock(): void {
  const keysCli = join(root, 'dist', 'libs', 'auth', 'src', 'keys.cli.js');
  const npm = `npm() { if [ "$*" = "run -s keys:generate" ]; then "${process.execPath}" "${keysCli}"; else echo "unexpected npm $*" >&2; return 1; fi; }`;
  const result = spawnSync('bash', ['-euo', 'pipefail', '-c', `${npm}\n${block('generate', 'sh')}`], { cwd: scratch, encoding: 'utf8' });
  expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
}

interface ComposeFile {
  services: Record<string, { environment: Record<string, string>; secrets: string[] }>;
  secrets: Record<string, { file: string }>;
}

/** The service's environment with each /run/secrets/<name> path replaced by the file compose would mount there. */
function mountedEnvironment(compose: ComposeFile, service: string): Record<string, string> {
  const { environment, secrets } = compose.services[service]!;
  return Object.fromEntries(
    Object.entries(environment).map(([name, value]) => {
      const mounted = /^\/run\/secrets\/([a-z_]+)$/.exec(value);
      if (!mounted) return [name, value];
      expect({ name, granted: secrets.includes(mounted[1]!) }).toEqual({ name, granted: true });
      return [name, join(scratch, compose.secrets[mounted[1]!]!.file)];
    }),
  );
}

describe('docs/configuration.md: secrets mounted as files', () => {
  it(tag('SECRETS-LIFECYCLE', 'the documented compose secrets start the worker in production from files alone, with every secret it needs and none in its environment'), async () => {
    runGenerateBlock();
    const compose = parse(block('compose', 'yaml')) as ComposeFile;
    const env = mountedEnvironment(compose, 'worker');
    // No secret in the environment itself: each is a _FILE variable.
    expect(Object.keys(env).filter((k) => (SECRET_VARIABLES as readonly string[]).includes(k) && k !== 'REDIS_URL')).toEqual([]);
    for (const file of Object.values(compose.secrets)) expect((statSync(join(scratch, file.file)).mode & 0o077).toString(8)).toBe('0');
    const config = loadConfig(env);
    expect(config.NODE_ENV).toBe('production');
    const password = readFileSync(join(scratch, 'secrets', 'database_app_password'), 'utf8').trim();
    expect(runtimeDatabaseUrl(config)).toBe(`postgresql://benteng_app:${password}@postgres:5432/benteng`);
    expect(config.DATABASE_APP_PASSWORD).toBe(password);
    expect((await parseSigningKeys(config.AUTH_SIGNING_KEYS!)).length).toBe(1);
    expect(config.AUTH_TOKEN_PEPPER).toBe(readFileSync(join(scratch, 'secrets', 'auth_token_pepper'), 'utf8').replace(/\n$/, ''));
    expect(jobSigningKeys(config).active.kid).toBe('k1');
    expect(dataEncryptionKeys(config).active.key.length).toBe(32);
    // Kubernetes' secret volumes and compose both keep the bytes as written: the trailing newline
    // the commands wrote was removed once, and nothing else.
    expect(config.AUTH_TOKEN_PEPPER).not.toMatch(/\s/);
  });

  it(tag('SECRETS-LIFECYCLE', 'the same deployment with a leftover AUTH_TOKEN_PEPPER in the environment does not start, and says why without the value'), () => {
    const compose = parse(block('compose', 'yaml')) as ComposeFile;
    const stale = 'stale-pepper-from-an-old-env-file-0123456789abcdef';
    let error: unknown;
    try {
      loadConfig({ ...mountedEnvironment(compose, 'worker'), AUTH_TOKEN_PEPPER: stale });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([{ variable: 'AUTH_TOKEN_PEPPER', rule: 'is set more than once (AUTH_TOKEN_PEPPER and AUTH_TOKEN_PEPPER_FILE); set exactly one' }]);
    expect((error as ConfigError).message).not.toContain(stale);
    expect((error as ConfigError).message).not.toContain(readFileSync(join(scratch, 'secrets', 'auth_token_pepper'), 'utf8').trim());
  });
});
