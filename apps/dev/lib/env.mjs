// `.env` support for the npm scripts (`npm start`, `npm run dev`, `npm run db:*`, `npm run internal`,
// `npm run keys:generate`): the variables of <root>/.env, parsed by Node's own env-file parser
// (util.parseEnv, the same as `node --env-file`), fill what the environment leaves unset. A variable
// already set in the environment always wins, so `PORT=4000 npm start` overrides the file. A
// missing file is not an error. The API and worker those scripts start inherit the result.
//
// `npm test` never calls this: the suite must not depend on, or be changed by, a developer's .env.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { root } from './paths.mjs';

/**
 * Applies `<dir>/.env` to `env` (process.env by default) without overriding; returns the names
 * it set (never values: they may be secrets).
 */
export function loadDotEnv(dir = root, env = process.env) {
  const file = join(dir, '.env');
  if (!existsSync(file)) return [];
  const applied = [];
  for (const [name, value] of Object.entries(parseEnv(readFileSync(file, 'utf8')))) {
    if (env[name] !== undefined) continue;
    env[name] = value;
    applied.push(name);
  }
  return applied;
}
