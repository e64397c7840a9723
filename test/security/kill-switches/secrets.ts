import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, defaultSecretSources, loadConfig, type SecretSource } from '@benteng/config';
import { JobRejection, JobSigner, type TenantJobEnvelope } from '@benteng/jobs';
import { scanPlanted } from '../../support/secret-scan.js';
import { scenario, type Target } from '../support/kill-switch.js';

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

export const SECRETS_SCENARIOS = [
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
