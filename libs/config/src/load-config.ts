import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { AppConfig, CONFIG_VARIABLES, SECRET_VARIABLES } from './config.schema.js';
import { placeholderProblems } from './placeholder-secrets.js';
import { defaultSecretSources, resolveSecret, SecretSourceError, type SecretSource } from './secret-source.js';

/** The runtime role every migration grants to; see prisma/migrations/20261128000000_init. */
export const RUNTIME_ROLE = 'benteng_app';
const DEV_RUNTIME_PASSWORD = 'benteng_app_dev_password';
/**
 * The internal listener's role: a member of benteng_app and the only grantee of the operator
 * functions (prisma/migrations/20261207140000_internal_role; docs/architecture.md, invariant 4).
 */
export const INTERNAL_ROLE = 'benteng_internal';
const DEV_INTERNAL_PASSWORD = 'benteng_internal_dev_password';

export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; rule: string }[]) {
    super(
      `Invalid configuration: ${problems.map((p) => `${p.variable} ${p.rule}`).join('; ')}. ` +
        'See .env.example for every variable.',
    );
    this.name = 'ConfigError';
  }
}

function flatten(errors: ValidationError[]): { variable: string; rule: string }[] {
  return errors.flatMap((e) =>
    Object.values(e.constraints ?? {}).map((rule) => ({ variable: e.property, rule })),
  );
}

const SECRETS: ReadonlySet<string> = new Set(SECRET_VARIABLES);

/**
 * Reads and validates the environment once. Unknown variables are ignored (the process
 * environment holds many); empty strings count as unset so `FOO=` in a .env file means default.
 * Secret variables come from `sources` (by default the environment and `NAME_FILE`,
 * libs/config/src/secret-source.ts); one set in two places is refused, naming both places.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, sources: readonly SecretSource[] = defaultSecretSources(env)): AppConfig {
  const input: Record<string, string> = {};
  const sourceProblems: { variable: string; rule: string }[] = [];
  for (const key of CONFIG_VARIABLES) {
    if (SECRETS.has(key)) {
      try {
        const value = resolveSecret(key, sources);
        if (value !== undefined) input[key] = value;
      } catch (error) {
        if (!(error instanceof SecretSourceError)) throw error;
        sourceProblems.push({ variable: error.variable, rule: error.rule });
      }
      continue;
    }
    const value = env[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  // A secret that could not be read is reported as such, not also as "required" by the validators.
  if (sourceProblems.length > 0) throw new ConfigError(sourceProblems);
  const config = plainToInstance(AppConfig, input, { exposeDefaultValues: true });
  const problems = flatten(validateSync(config, { forbidUnknownValues: true }));
  // Production also refuses secrets anyone can read (placeholders, development values).
  if (config.NODE_ENV === 'production') problems.push(...placeholderProblems(config));
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}

/** Password for the runtime role: configured, or the documented development default. */
export function runtimeRolePassword(config: AppConfig): string {
  if (config.DATABASE_APP_PASSWORD) return config.DATABASE_APP_PASSWORD;
  if (config.NODE_ENV === 'production') throw new ConfigError([{ variable: 'DATABASE_APP_PASSWORD', rule: 'is required when NODE_ENV=production' }]);
  return DEV_RUNTIME_PASSWORD;
}

/**
 * Password for the internal listener's role: configured, or the documented development default.
 * Required in production by `npm run db:migrate`, which sets it; the API and the worker never read it.
 */
export function internalRolePassword(config: AppConfig): string {
  if (config.DATABASE_INTERNAL_PASSWORD) return config.DATABASE_INTERNAL_PASSWORD;
  if (config.NODE_ENV === 'production') throw new ConfigError([{ variable: 'DATABASE_INTERNAL_PASSWORD', rule: 'is required when NODE_ENV=production' }]);
  return DEV_INTERNAL_PASSWORD;
}

/** Outside production: DATABASE_URL with another user and password (same host and database). */
function derivedUrl(config: AppConfig, variable: string, role: string, password: string): string {
  if (!config.DATABASE_URL) throw new ConfigError([{ variable, rule: 'or DATABASE_URL must be set' }]);
  const url = new URL(config.DATABASE_URL);
  url.username = role;
  url.password = password;
  return url.toString();
}

/**
 * The connection string of the runtime role. Explicit DATABASE_APP_URL wins; outside production it
 * is derived from DATABASE_URL (same host and database, user benteng_app) so a developer sets one
 * variable.
 */
export function runtimeDatabaseUrl(config: AppConfig): string {
  if (config.DATABASE_APP_URL) return config.DATABASE_APP_URL;
  return derivedUrl(config, 'DATABASE_APP_URL', RUNTIME_ROLE, runtimeRolePassword(config));
}

/**
 * The connection string of the internal listener (user benteng_internal), derived like the runtime
 * role's outside production. Required in production, where the API checks it at start (main.ts);
 * only the API's internal listener connects with it, so the worker's environment never holds it.
 */
export function internalDatabaseUrl(config: AppConfig): string {
  if (config.DATABASE_INTERNAL_URL) return config.DATABASE_INTERNAL_URL;
  if (config.NODE_ENV === 'production') throw new ConfigError([{ variable: 'DATABASE_INTERNAL_URL', rule: 'is required when NODE_ENV=production' }]);
  return derivedUrl(config, 'DATABASE_INTERNAL_URL', INTERNAL_ROLE, internalRolePassword(config));
}

export function ownerDatabaseUrl(config: AppConfig): string {
  if (!config.DATABASE_URL) throw new ConfigError([{ variable: 'DATABASE_URL', rule: 'must be set for migrations and seeds' }]);
  return config.DATABASE_URL;
}
