import type { AppConfig } from './config.schema.js';

/**
 * Secrets everyone can read: the development passwords of the runtime and internal roles (load-config.ts), the
 * demo seed's password (prisma/seed.ts) and the `change-me…` defaults an older docker-compose.yml
 * shipped. A deployment that kept one of them is as open as one without a secret.
 */
const KNOWN_SECRETS = new Set(['benteng_app_dev_password', 'benteng_internal_dev_password', 'benteng-demo-only', 'change-me-benteng-app-password', 'change-me-owner-password', 'change-me-token-pepper-of-at-least-32-characters', 'change-me-job-signing-secret-of-at-least-32-characters']);

/** Words that mark a value as an example to be replaced, in any case and spelling. */
const PLACEHOLDER = /change[-_ ]?me|replace[-_ ]?me|placeholder|example|xxxxxxxx|your[-_ ]?(secret|key|password)/i;

/** The secret parts of a "kid:secret,…" or "service:kid:secret,…" keyring value. */
function secretsOf(value: string | undefined, fields: 2 | 3): string[] {
  if (!value) return [];
  return value.split(',').map((entry) => entry.split(':').slice(fields - 1).join(':'));
}

function passwordOf(url: string | undefined): string[] {
  if (!url) return [];
  try {
    const password = decodeURIComponent(new URL(url).password);
    return password ? [password] : [];
  } catch {
    return [];
  }
}

const isPlaceholder = (secret: string): boolean => KNOWN_SECRETS.has(secret) || PLACEHOLDER.test(secret) || (secret.length > 0 && new Set(secret).size === 1);

/**
 * Production refuses to start on a secret that is publicly known (a placeholder, a documented
 * development value, one character repeated): each problem names the variable, never the value.
 * Lengths and formats are AppConfig's rules; this is the check they cannot express.
 */
export function placeholderProblems(config: AppConfig): { variable: string; rule: string }[] {
  const secrets: Record<string, string[]> = {
    DATABASE_APP_PASSWORD: config.DATABASE_APP_PASSWORD ? [config.DATABASE_APP_PASSWORD] : [],
    DATABASE_APP_URL: passwordOf(config.DATABASE_APP_URL),
    DATABASE_INTERNAL_PASSWORD: config.DATABASE_INTERNAL_PASSWORD ? [config.DATABASE_INTERNAL_PASSWORD] : [],
    DATABASE_INTERNAL_URL: passwordOf(config.DATABASE_INTERNAL_URL),
    DATABASE_URL: passwordOf(config.DATABASE_URL),
    AUTH_TOKEN_PEPPER: config.AUTH_TOKEN_PEPPER ? [config.AUTH_TOKEN_PEPPER] : [],
    JOB_SIGNING_KEYS: secretsOf(config.JOB_SIGNING_KEYS, 2),
    INTERNAL_SERVICE_KEYS: secretsOf(config.INTERNAL_SERVICE_KEYS, 3),
    // 32 bytes of one repeated value (e.g. all zeros) decode from a base64 string of one repeated character.
    DATA_ENCRYPTION_KEYS: secretsOf(config.DATA_ENCRYPTION_KEYS, 2).map((key) => Buffer.from(key, 'base64').toString('latin1')),
    KEY_RING_ROOT_KEYS: secretsOf(config.KEY_RING_ROOT_KEYS, 2).map((key) => Buffer.from(key, 'base64').toString('latin1')),
    PAYMENTS_WEBHOOK_SECRET: config.PAYMENTS_WEBHOOK_SECRET ? [config.PAYMENTS_WEBHOOK_SECRET.slice('whsec_'.length)] : [],
  };
  return Object.entries(secrets)
    .filter(([, values]) => values.some(isPlaceholder))
    .map(([variable]) => ({ variable, rule: 'is a publicly known placeholder or development value; generate a secret (README, Docker)' }));
}
