import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '@benteng/database';
import { tag } from '../security/support/controls.js';
import { scanPlanted } from '../support/secret-scan.js';

/**
 * Secret scanning (docs/operations.md, "Commands"): `npm run lint:secrets` runs secretlint with its
 * recommended preset over the repository, and a realistic secret planted in a file fails it.
 */

const root = projectRoot();
const AWS_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** An access key id in AWS's format (AKIA + 16 base32 characters), random so it is nobody's. */
const awsAccessKeyId = (): string => `AKIA${[...randomBytes(16)].map((b) => AWS_ALPHABET[b % 32]).join('')}`;
/**
 * A secret access key (40 base64 characters). secretlint's AWS rule ends its pattern with `\b`, so
 * it misses a key whose last character is `+` or `/` (about 1 in 32 random keys): the test plants
 * one it can see, the scan's limit is noted in docs/operations.md (`npm run lint:secrets`).
 */
const awsSecretAccessKey = (): string => {
  for (;;) {
    const key = randomBytes(30).toString('base64').slice(0, 40);
    if (/[A-Za-z0-9]$/.test(key)) return key;
  }
};
/** A freshly generated private key, PEM-encoded as it would be pasted into a config file. */
const privateKeyPem = (): string => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
/**
 * The two kinds the recommended preset misses (.secretlintrc.json adds a pattern rule for them): an
 * Ed25519 PKCS#8 key (64 base64 characters, under the preset's 100) and a private JWK.
 */
const ed25519Pem = (): string => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const privateJwk = (): { kty: string; crv: string; x: string; d: string } => generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }) as never;

describe('secret scanning', () => {
  it(tag('SECRETS-LIFECYCLE', '`npm run lint:secrets` scans the repository with the recommended preset and finds nothing but the listed exceptions'), () => {
    const started = Date.now();
    const result = spawnSync('npm', ['run', '-s', 'lint:secrets'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    const elapsed = Date.now() - started;
    expect({ status: result.status, output: `${result.stdout}${result.stderr}` }).toEqual({ status: 0, output: '' });
    // Kept fast enough to run in every `npm test` (about 2 s alone, 5 s with npm under a test run, on the 2-core machine).
    expect(elapsed).toBeLessThan(30_000);
    // The scan covers the repository (every exception is one exact value, listed with its reason).
    const config = readFileSync(join(root, '.secretlintrc.json'), 'utf8');
    expect(config).toContain('@secretlint/secretlint-rule-preset-recommend');
    const ignored = readFileSync(join(root, '.secretlintignore'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    expect(ignored.sort()).toEqual(['.data/', '.stryker-tmp/', '.tools/', 'bench/results/', 'coverage/', 'dist/', 'libs/database/src/generated/', 'node_modules/', 'package-lock.json', 'reports/', 'stryker/incremental.json']);
  });

  it(tag('SECRETS-LIFECYCLE', 'a planted AWS access key or private key fails the scan, reported masked, by rule and position'), () => {
    const id = awsAccessKeyId();
    const secret = awsSecretAccessKey();
    const pem = privateKeyPem();
    const cases: Record<string, string> = {
      'aws.ts': `export const s3 = { accessKeyId: '${id}', secretAccessKey: '${secret}' };\n`,
      'key.ts': `export const signingKey = \`${pem}\`;\n`,
      'deploy.env': `AWS_ACCESS_KEY_ID=${id}\nAWS_SECRET_ACCESS_KEY=${secret}\n`,
    };
    for (const [file, content] of Object.entries(cases)) {
      const sut = scanPlanted({ [file]: content, 'clean.ts': "export const greeting = 'hello';\n" });
      expect({ file, status: sut.status }).toEqual({ file, status: 1 });
      expect(sut.output).toContain(file);
      expect(sut.output).not.toContain('clean.ts');
      expect(sut.output).toMatch(file === 'key.ts' ? /secretlint-rule-privatekey/ : /secretlint-rule-aws/);
      // The report masks what it found: the scan's own output does not leak the secret.
      expect(sut.output).not.toContain(id);
      expect(sut.output).not.toContain(secret);
      expect(sut.output).not.toContain(pem.split('\n')[1]!);
    }
  });

  it(tag('SECRETS-LIFECYCLE', 'a planted Ed25519 private key (PEM) or private JWK fails the scan, which the recommended preset alone lets through'), () => {
    const pem = ed25519Pem();
    const jwk = privateJwk();
    const cases: Record<string, string> = {
      'ed25519.ts': `export const requestSigningKey = \`${pem}\`;\n`,
      'jwks.json': `${JSON.stringify({ keys: [{ ...jwk, kid: 'partner-1' }] }, null, 2)}\n`,
      'key.ts': `export const key = { kty: '${jwk.kty}', crv: '${jwk.crv}', x: '${jwk.x}', d: '${jwk.d}' };\n`,
    };
    // One scan of the three (each one reported on its own), then the preset alone over the same files.
    const sut = scanPlanted({ ...cases, 'clean.ts': "export const greeting = 'hello';\n" });
    expect(sut.status).toBe(1);
    for (const file of Object.keys(cases)) expect(sut.output).toMatch(new RegExp(`${file.replace('.', '\\.')}\\n\\s+\\d+:\\d+\\s+error[^\\n]*secretlint-rule-pattern`));
    expect(sut.output).not.toContain('clean.ts');
    expect(sut.output).not.toContain(jwk.d);
    expect(sut.output).not.toContain(pem.split('\n')[1]!);
    // Why the pattern rule is there: the preset alone passes all three.
    expect(scanPlanted(cases, JSON.stringify({ rules: [{ id: '@secretlint/secretlint-rule-preset-recommend' }] }))).toEqual({ status: 0, output: '' });
    // The public half alone is not a secret: a published JWK (no "d") and a public PEM pass.
    const { d: _d, ...publicJwk } = jwk;
    const publicPem = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(scanPlanted({ 'jwks.json': `${JSON.stringify({ keys: [publicJwk] })}\n`, 'pub.ts': `export const pub = \`${publicPem}\`;\n` }).status).toBe(0);
  });

  it(tag('SECRETS-LIFECYCLE', 'an exception allows its one exact value only: the same kind of credential with another password fails'), () => {
    const allowed = scanPlanted({ 'dev.ts': "export const url = 'postgresql://benteng_app:benteng_app_dev_password@db/benteng';\n" });
    expect(allowed.status).toBe(0);
    const real = scanPlanted({ 'prod.ts': `export const url = 'postgresql://benteng_app:${randomBytes(18).toString('hex')}@db.prod.internal/benteng';\n` });
    expect(real.status).toBe(1);
    expect(real.output).toMatch(/PostgreSQL connection string/);
  });
});
