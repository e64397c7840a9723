// `npm run internal -- <METHOD> <path> [--operator <id>] [--reason "..."] [--body '<json>'] [--key-id <kid>]`
//
// Signs one request to the internal listener (docs/internal-signatures.md). The status line goes to
// stderr and the response body alone to stdout, byte for byte when stdout is not a terminal, so the
// output pipes into other tools (`npm run internal -- GET /internal/v1/metrics | promtool check
// metrics`, `… | jq`); on a terminal JSON is indented. The key comes from INTERNAL_SERVICE_KEYS (the first key, or --key-id / INTERNAL_KEY_ID);
// outside production, without INTERNAL_SERVICE_KEYS, it is the `ops-cli` key derived from
// AUTH_TOKEN_PEPPER (read from .data/dev-secrets.json when `npm start` created it), as the API does.
// The operator defaults to INTERNAL_OPERATOR_ID. Nothing secret is printed.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, internalServiceKeys, loadConfig } from '@benteng/config';
import { signServiceRequest } from '@benteng/security';

const USAGE = 'usage: npm run internal -- <GET|POST|PUT|PATCH|DELETE> </internal/v1/...> [--operator <id>] [--reason "..."] [--body \'<json>\'] [--key-id <kid>]\n';

function fail(message: string, code = 2): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { operator: { type: 'string' }, reason: { type: 'string' }, body: { type: 'string' }, 'key-id': { type: 'string' }, help: { type: 'boolean' } },
});
if (values.help || positionals.length !== 2) fail(USAGE);
const method = positionals[0]!.toUpperCase();
const path = positionals[1]!;
if (!['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) fail(USAGE);
if (!path.startsWith('/internal/')) fail('the path must start with /internal/ (the internal listener serves nothing else)');
if (values.body !== undefined) {
  try {
    JSON.parse(values.body);
  } catch {
    fail('--body must be JSON');
  }
}

const env = { ...process.env };
const devSecrets = join(process.cwd(), '.data', 'dev-secrets.json');
// NAME_FILE counts as set (libs/config/src/secret-source.ts): filling NAME too would be refused.
const given = (name: string) => Boolean(env[name] || env[`${name}_FILE`]);
if (env.NODE_ENV !== 'production' && !given('INTERNAL_SERVICE_KEYS') && !given('AUTH_TOKEN_PEPPER') && existsSync(devSecrets)) {
  env.AUTH_TOKEN_PEPPER = (JSON.parse(readFileSync(devSecrets, 'utf8')) as { AUTH_TOKEN_PEPPER?: string }).AUTH_TOKEN_PEPPER;
}
let config;
try {
  config = loadConfig(env);
} catch (error) {
  fail(error instanceof ConfigError ? error.message : 'configuration could not be loaded');
}
const { keys, ephemeral } = internalServiceKeys(config);
if (ephemeral) fail('no key: set INTERNAL_SERVICE_KEYS, or AUTH_TOKEN_PEPPER as the API has it (npm start keeps it in .data/dev-secrets.json)');
const keyId = values['key-id'] ?? env.INTERNAL_KEY_ID ?? [...keys.keys()][0]!;
const key = keys.get(keyId);
if (!key) fail('unknown key id (see INTERNAL_SERVICE_KEYS)');

const host = config.INTERNAL_HOST === '0.0.0.0' ? '127.0.0.1' : config.INTERNAL_HOST.includes(':') ? `[${config.INTERNAL_HOST}]` : config.INTERNAL_HOST;
const url = `http://${host}:${config.INTERNAL_PORT}${path}`;
const operatorId = values.operator ?? env.INTERNAL_OPERATOR_ID;
const headers = signServiceRequest({ method, url, body: values.body, keyId, secret: key.secret, operatorId, reason: values.reason });

try {
  const response = await fetch(url, {
    method,
    headers: { ...headers, ...(values.body !== undefined ? { 'content-type': 'application/json' } : {}), accept: 'application/json' },
    ...(values.body !== undefined ? { body: values.body } : {}),
  });
  process.stderr.write(`${response.status} ${response.statusText}\n`);
  const text = await response.text();
  let out = text;
  if (process.stdout.isTTY) {
    try {
      out = `${JSON.stringify(JSON.parse(text), null, 2)}\n`;
    } catch {
      out = text.endsWith('\n') ? text : `${text}\n`;
    }
  }
  // Exit only once the body is flushed: a pipe can take it in several writes.
  process.stdout.write(out, () => process.exit(response.ok ? 0 : 1));
} catch {
  fail(`the internal listener does not answer at ${url}`, 1);
}
