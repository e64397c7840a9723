import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { AppConfig, CONFIG_VARIABLES } from './config.schema.js';
import { placeholderProblems } from './placeholder-secrets.js';

/** The runtime role every migration grants to; see prisma/migrations/*_roles_and_tenancy. */
export const RUNTIME_ROLE = 'benteng_app';
const DEV_RUNTIME_PASSWORD = 'benteng_app_dev_password';

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

/**
 * Reads and validates the environment once. Unknown variables are ignored (the process
 * environment holds many); empty strings count as unset so `FOO=` in a .env file means default.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const input: Record<string, string> = {};
  for (const key of CONFIG_VARIABLES) {
    const value = env[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
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
 * The connection string of the runtime role. Explicit DATABASE_APP_URL wins; outside production it
 * is derived from DATABASE_URL (same host and database, user benteng_app) so a developer sets one
 * variable.
 */
export function runtimeDatabaseUrl(config: AppConfig): string {
  if (config.DATABASE_APP_URL) return config.DATABASE_APP_URL;
  if (!config.DATABASE_URL) {
    throw new ConfigError([{ variable: 'DATABASE_APP_URL', rule: 'or DATABASE_URL must be set' }]);
  }
  const url = new URL(config.DATABASE_URL);
  url.username = RUNTIME_ROLE;
  url.password = runtimeRolePassword(config);
  return url.toString();
}

export function ownerDatabaseUrl(config: AppConfig): string {
  if (!config.DATABASE_URL) throw new ConfigError([{ variable: 'DATABASE_URL', rule: 'must be set for migrations and seeds' }]);
  return config.DATABASE_URL;
}
