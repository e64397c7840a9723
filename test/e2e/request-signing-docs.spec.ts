import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '@benteng/database';
import type { TestApi } from '../support/api.js';
import { buildAuthApi, Caller, SecretLedger } from '../support/auth-client.js';
import { ownerPool } from '../support/db.js';
import { freePort } from '../support/net.js';
import { createPartnerClient, createPartnerKey } from '../support/partners.js';
import { requireSignatures } from '../support/request-signing.js';
import { createLoggedInTenant, type LoggedInTenant } from '../support/tenants.js';
import { tag } from '../security/support/controls.js';

/**
 * docs/request-signing.md shows how a partner signs a request with curl + openssl and in
 * TypeScript. Both code blocks are taken from the document as written (after their
 * `<!-- request-signing:… -->` markers) and run against a listening API whose PUBLIC_BASE_URL is
 * the address they call, for a client that requires signatures: the invoice each creates must be
 * stored. The TypeScript block is only stripped of its types (TypeScript's transpiler) and run with
 * node from inside the repository, so it imports the same http-message-signatures a reader installs.
 * A run with an unregistered key must be refused, so the examples are proven to be what passes.
 */
const root = projectRoot();
const doc = readFileSync(join(root, 'docs', 'request-signing.md'), 'utf8');

/** A child process, asynchronously: the API under test runs in this process and must keep answering. */
function run(command: string, args: string[], cwd: string, env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      resolve({ status: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

function block(marker: string, language: string): string {
  const match = new RegExp(`<!-- request-signing:${marker} -->\\n\`\`\`${language}\\n([\\s\\S]*?)\`\`\``).exec(doc);
  if (!match) throw new Error(`docs/request-signing.md has no ${language} block after <!-- request-signing:${marker} -->`);
  return match[1]!;
}

describe(tag('PARTNER-REQUEST-SIGNING', 'the signing examples of docs/request-signing.md, run against the API'), () => {
  const owner = ownerPool();
  const ledger = new SecretLedger();
  let api: TestApi;
  let base: string;
  let t: LoggedInTenant;
  let clientId: string;
  let apiKey: string;
  let work: string;

  const invoicesLike = async (prefix: string) =>
    (await owner.query<{ number: string }>('SELECT number FROM invoices WHERE tenant_id = $1 AND number LIKE $2', [t.tenant.id, `${prefix}%`])).rows.map((r) => r.number);

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    api = ledger.watch(await buildAuthApi({ env: { PUBLIC_BASE_URL: base } }));
    await api.app.listen(port, '127.0.0.1');
    t = await createLoggedInTenant(owner, new Caller(api, ledger), 'sig-docs');
    clientId = (await createPartnerClient(owner, t.tenant.id, t.tenant.users.owner.id, { scopes: ['invoices:read', 'invoices:write'] })).clientId;
    apiKey = (await createPartnerKey(owner, t.tenant.id, clientId, t.tenant.users.owner.id)).key;
    await requireSignatures(owner, t.tenant.id, clientId);
    work = mkdtempSync(join(tmpdir(), 'benteng-signing-doc-'));
  });
  afterAll(async () => {
    rmSync(work, { recursive: true, force: true });
    await api.close();
  });

  const bash = (script: string) => run('bash', ['-c', script], work, { BASE: base, OWNER_TOKEN: t.tokens.owner, CLIENT_ID: clientId, API_KEY: apiKey });

  it('the curl + openssl example registers its key and creates an invoice (201, stored)', async () => {
    const curl = await bash(block('curl', 'bash'));
    expect(curl.stderr).toBe('');
    expect(curl.status).toBe(0);
    expect(curl.stdout.trim().split('\n').at(-1)).toBe('201');
    expect(await invoicesLike('SIGNED-')).toHaveLength(1);
    expect((await owner.query('SELECT label FROM partner_signing_keys WHERE tenant_id = $1 AND client_id = $2', [t.tenant.id, clientId])).rows).toEqual([{ label: 'curl example' }]);
  });

  it('the TypeScript example, with the key the curl example registered, creates an invoice; with an unregistered key it is refused', async () => {
    const { rows } = await owner.query<{ keyid: string }>('SELECT keyid FROM partner_signing_keys WHERE tenant_id = $1 AND client_id = $2', [t.tenant.id, clientId]);
    const source = ts.transpileModule(block('typescript', 'ts'), { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
    // Inside the repository, so `http-message-signatures` resolves as in a partner's project.
    const file = join(root, '.data', `request-signing-example-${process.pid}.mjs`);
    writeFileSync(file, source);
    const node = (keyFile: string) => run(process.execPath, [file], root, { BASE: base, API_KEY: apiKey, SIGNING_KEY_FILE: keyFile, KEYID: rows[0]!.keyid });
    try {
      const signed = await node(join(work, 'signing-key.pem'));
      expect(signed.stderr).toBe('');
      expect(signed.stdout).toMatch(/^201 /);
      expect(await invoicesLike('SIGNED-TS-')).toHaveLength(1);

      const other = join(work, 'unregistered.pem');
      expect(spawnSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', other]).status).toBe(0);
      const refused = await node(other);
      expect(refused.stdout).toMatch(/^401 .*signature\.invalid/);
      expect(await invoicesLike('SIGNED-TS-')).toHaveLength(1);
    } finally {
      rmSync(file, { force: true });
    }
  });
});
