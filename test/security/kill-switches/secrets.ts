import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyRotationService, SigningKeys } from '@benteng/auth';
import { IgnoresRevocation } from '../../../apps/lab/src/removals.js';
import { ConfigError, defaultSecretSources, loadConfig, type SecretSource } from '@benteng/config';
import { JobRejection, JobSigner, type TenantJobEnvelope } from '@benteng/jobs';
import type { KeyRingRow } from '@benteng/database';
import { buildApi, type TestApi } from '../../support/api.js';
import { ownerPool } from '../../support/db.js';
import { createTenant, type TestTenant } from '../../support/factories.js';
import { PublicClient, setPasswords, testPassword } from '../../support/public-api.js';
import { scanPlanted } from '../../support/secret-scan.js';
import { scenario, type KillSwitchScenario, type Target } from '../support/kill-switch.js';

// --- the controls, removed ------------------------------------------------------------------------

/**
 * The environment and the file sources behind one source that answers with the first value it
 * finds: what a loader without the "set exactly one" rule does. loadConfig then sees one provider
 * per variable and never learns that a second one disagreed.
 */
class FirstValueWins implements SecretSource {
  constructor(private readonly sources: readonly SecretSource[]) {}

  read(variable: string): ReturnType<SecretSource['read']> {
    for (const source of this.sources) {
      const found = source.read(variable);
      if (found) return found;
    }
    return undefined;
  }
}

/** The recommended preset removed: a secretlint configuration with no rule. */
const NO_RULES = JSON.stringify({ rules: [] });

// --- targets ---------------------------------------------------------------------------------------

interface WorkerStart extends Target {
  /** The worker's job signer, or the configuration error that stopped its start. */
  signer: JobSigner | ConfigError;
}

interface SecretFixtures {
  dir: string;
  leaked: string;
  env: Record<string, string>;
}

/**
 * A worker whose job signing key was rotated after a leak: the new key is mounted as
 * JOB_SIGNING_KEYS_FILE, and a forgotten JOB_SIGNING_KEYS in an old env file still holds the
 * leaked one.
 */
function rotatedAfterLeak(): SecretFixtures {
  const dir = mkdtempSync(join(tmpdir(), 'benteng-ks-secrets-'));
  const leaked = randomBytes(32).toString('hex');
  writeFileSync(join(dir, 'job_signing_keys'), `k2:${randomBytes(32).toString('hex')}\n`, { mode: 0o400 });
  const env = {
    NODE_ENV: 'test',
    AUTH_TOKEN_PEPPER: randomBytes(32).toString('base64url'),
    JOB_SIGNING_KEYS: `k1:${leaked}`,
    JOB_SIGNING_KEYS_FILE: join(dir, 'job_signing_keys'),
  };
  return { dir, leaked, env };
}

const forgedExport = (): TenantJobEnvelope => ({
  v: 1,
  kind: 'tenant',
  name: 'exports.run',
  tenantId: randomUUID(),
  actor: { kind: 'user', userId: randomUUID(), sessionId: randomUUID() },
  requestId: randomUUID(),
  issuedAt: new Date().toISOString(),
  data: { exportId: randomUUID(), format: 'csv', filters: {} },
});

export const SECRETS_SCENARIOS: KillSwitchScenario[] = [
  scenario<WorkerStart, SecretFixtures>({
    control: 'SECRETS-LIFECYCLE',
    attack: 'a job envelope forged with a leaked job signing key that stayed in the environment after the key was rotated in the mounted file',
    removal: 'loadConfig is given one secret source in which the first value found wins (no "set exactly one" rule)',
    fixtures: async () => rotatedAfterLeak(),
    async target(intact, { env, dir }) {
      const sources = intact ? defaultSecretSources(env) : [new FirstValueWins(defaultSecretSources(env))];
      let signer: JobSigner | ConfigError;
      try {
        signer = new JobSigner(loadConfig(env, sources));
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        signer = error;
      }
      return { signer, close: async () => rmSync(dir, { recursive: true, force: true }) };
    },
    async run({ signer }, { leaked }) {
      if (signer instanceof ConfigError) {
        return { succeeded: false, observed: `the worker did not start: ${signer.message.split('. See')[0]}`, exchanges: [] };
      }
      // The attacker signs with the leaked key, exactly as JobSigner does, under its kid.
      const attacker = new JobSigner(loadConfig({ NODE_ENV: 'test', JOB_SIGNING_KEYS: `k1:${leaked}` }));
      const forged = attacker.sign(forgedExport());
      try {
        const envelope = signer.verify(forged);
        return { succeeded: true, observed: `the worker started on the leaked key and accepted a forged ${envelope.name} job for tenant ${(envelope as TenantJobEnvelope).tenantId}`, exchanges: [] };
      } catch (error) {
        if (!(error instanceof JobRejection)) throw error;
        return { succeeded: false, observed: `the worker refused the forged job (${error.reason})`, exchanges: [] };
      }
    },
  }),
  scenario<Target, { pem: string }>({
    control: 'SECRETS-LIFECYCLE',
    attack: 'a P-256 private signing key (as AUTH_SIGNING_KEYS accepts) pasted into a source file is committed past the secret scan',
    removal: 'the secret scan runs with a .secretlintrc.json without rules (the recommended preset removed)',
    fixtures: async () => ({ pem: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() }),
    target: async (intact) => ({ intact, close: async () => undefined }) as Target,
    async run(target, { pem }) {
      const intact = (target as Target & { intact: boolean }).intact;
      const result = scanPlanted({ 'signing-key.ts': `export const key = \`${pem}\`;\n` }, intact ? undefined : NO_RULES);
      return {
        succeeded: result.status === 0,
        observed: result.status === 0 ? 'the scan passed: the private key would be committed' : `the scan failed (exit ${result.status}): ${result.output.split('\n').find((l) => l.includes('error'))?.trim() ?? ''}`,
        exchanges: [],
      };
    },
  }),
];

// --- emergency rotation ------------------------------------------------------------------------------

// IgnoresRevocation (SigningKeys that forget revocations): apps/lab/src/removals.ts, which the
// training lab (`npm run lab -- SECRETS-LIFECYCLE`) applies too.

interface RingFixtures {
  env: Record<string, string>;
  tenant: TestTenant;
  password: string;
}

const owner = ownerPool();

async function ringFixtures(): Promise<RingFixtures> {
  const tenant = await createTenant(owner, 'ks-key-ring');
  const password = testPassword();
  await setPasswords(owner, [tenant.users.member.id], password);
  // A ring of its own (root kid ks1): other files' rings on the test database are not this one.
  return { env: { KEY_RING_ROOT_KEYS: `ks1:${randomBytes(32).toString('base64')}`, KEY_PUBLISH_LEAD_S: '0', KEY_RING_REFRESH_S: '3600' }, tenant, password };
}

SECRETS_SCENARIOS.push(
  scenario<TestApi, RingFixtures>({
    control: 'SECRETS-LIFECYCLE',
    attack: 'an access token signed with a key revoked by an emergency rotation (suspected exposure) reads /v1/me',
    removal: 'SigningKeys is replaced by one that keeps verifying with every key it once knew (revocation ignored)',
    fixtures: ringFixtures,
    target: (intact, { env }) => buildApi({ env, ...(intact ? {} : { overrides: [{ token: SigningKeys, useClass: IgnoresRevocation }] }) }),
    async run(api, { tenant, password }) {
      const rotation = api.app.get(KeyRotationService);
      const keys = api.app.get(SigningKeys);
      // The ring's own key signs: publish, then promote (the lead is 0 here).
      await rotation.rotate('access-token', 'now');
      await rotation.rotate('access-token', 'now');
      await keys.reload();
      const client = new PublicClient(api);
      const { accessToken } = await client.login(tenant.users.member.email, password);
      const before = await client.call('GET', '/v1/me', { token: accessToken });
      await rotation.rotate('access-token', 'emergency');
      await keys.reload();
      const request = { method: 'GET' as const, url: '/v1/me', headers: { authorization: 'Bearer <token signed with the revoked key>' } };
      const after = await client.call('GET', '/v1/me', { token: accessToken });
      return {
        succeeded: after.status === 200,
        observed: `before the emergency rotation GET /v1/me answered ${before.status}; after it, with the revoked key's token, ${after.status}`,
        exchanges: [{ request, response: { status: after.status, body: after.body } }],
      };
    },
  }),
);

// --- emergency rotation of the job-envelope key ---------------------------------------------------

/** JobSigner that loads a revoked ring key like any other: it keeps verifying (what the emergency rotation must stop). */
class IgnoresJobKeyRevocation extends JobSigner {
  protected override rowVerifies(row: KeyRingRow, now: Date): boolean {
    return row.state === 'revoked' || super.rowVerifies(row, now);
  }
}

SECRETS_SCENARIOS.push(
  scenario<TestApi, RingFixtures>({
    control: 'SECRETS-LIFECYCLE',
    attack: 'a job forged with a job-envelope key revoked by an emergency rotation (the exposed key) is verified and would run',
    removal: 'JobSigner is replaced by one that loads revoked ring keys like any other (revocation ignored)',
    fixtures: async () => {
      const fixtures = await ringFixtures();
      // A ring of its own (root kid ks2), apart from the access-token scenario's.
      return { ...fixtures, env: { ...fixtures.env, KEY_RING_ROOT_KEYS: `ks2:${randomBytes(32).toString('base64')}` } };
    },
    target: (intact, { env }) => buildApi({ env, ...(intact ? {} : { overrides: [{ token: JobSigner, useClass: IgnoresJobKeyRevocation }] }) }),
    async run(api, { tenant }) {
      const rotation = api.app.get(KeyRotationService);
      const signer = api.app.get(JobSigner);
      // The ring's own key signs: publish, then promote (the lead is 0 here).
      await rotation.rotate('job-envelope', 'now');
      await rotation.rotate('job-envelope', 'now');
      await signer.reload();
      // The attacker holds the exposed key: a job it signs is indistinguishable from the API's.
      const forged = signer.sign({ ...forgedExport(), tenantId: tenant.id });
      await rotation.rotate('job-envelope', 'emergency');
      await signer.reload();
      try {
        const envelope = await signer.verifyCurrent(forged);
        return { succeeded: true, observed: `after the emergency rotation of the job-envelope key, the worker's verifier accepted a ${envelope.name} job forged with the revoked key`, exchanges: [] };
      } catch (error) {
        if (!(error instanceof JobRejection)) throw error;
        return { succeeded: false, observed: `after the emergency rotation of the job-envelope key, the job forged with the revoked key was refused (${error.reason})`, exchanges: [] };
      }
    },
  }),
);
